"""The web inspector at /_emulator/ui: what the emulator saw, drawn on the image.

- journal.py: the last requests in memory (bounded; off with --no-inspector);
- thumbnails.py: face thumbnails cropped when IndexFaces stores a face (capped on disk);
- browse.py: collections, faces and users, read from the face store;
- pages.py: the page (static/: plain HTML, JS and CSS shipped in the package, no build
  step, no CDN) and the JSON it reads under /_emulator/ui/api/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rekognition_emulator.emulator.inspector.journal import Entry, Journal

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

SERVICE_KEY = "inspector-journal"


def journal(state: AppState) -> Journal | None:
    """The server's request journal, or None when the inspector is off."""
    config = state.config
    if not config.inspector:
        return None
    return state.singleton(
        SERVICE_KEY,
        lambda: Journal(
            size=config.inspector_requests,
            image_bytes=config.inspector_image_bytes,
            memory_bytes=int(config.inspector_memory_mb * 1024 * 1024),
        ),
    )


__all__ = ["Entry", "Journal", "journal"]
