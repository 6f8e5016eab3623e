"""Ids the stream processor and Face Liveness families generate, made in one place.

They come from the emulator's id source (`emulator/server/ids.py`): random, or a reproducible
sequence under `--seed`.
"""

from __future__ import annotations

from rekognition_emulator.emulator.server import ids


def new_session_id() -> str:
    """A session id as AWS makes them for StartStreamProcessor and CreateFaceLivenessSession
    (and for connected-home label events): a random UUID, 36 lowercase characters."""
    return ids.new_uuid("SessionId")
