"""Ids the stream processor and Face Liveness families generate, made in one place.

(The project's deterministic `--seed` ids are another piece of work; when it lands, this is the
one function to point at it.)
"""

from __future__ import annotations

import uuid


def new_session_id() -> str:
    """A session id as AWS makes them for StartStreamProcessor and CreateFaceLivenessSession
    (and for connected-home label events): a random UUID, 36 lowercase characters."""
    return str(uuid.uuid4())
