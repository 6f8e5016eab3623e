"""The service shell: server (protocol, auth, validation, registry, config), aws (the other
AWS services on the same port), media (images and video), store (SQLite + hnswlib), jobs."""

from rekognition_emulator import __version__

__all__ = ["__version__"]
