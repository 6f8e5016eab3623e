"""Rekognition Video: the Start*/Get* pairs of stored-video analysis, answered from the frames.

One module per analysis (faces.py, labels.py, text.py, persons.py, moderation.py,
face_search.py, segments.py ...); `framework.py` says how an analysis is written and
registered. Importing this package imports every module in it, so adding an analysis is
adding a module that calls `framework.register(...)`; nothing else changes.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

log = logging.getLogger(__name__)


def _load_all() -> None:
    from rekognition_emulator.emulator.server.registry import IMPORT_ERRORS

    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # one broken analysis must not take the others down
            log.exception("handlers.video.%s failed to import", info.name)
            IMPORT_ERRORS[f"video.{info.name}"] = f"{type(exc).__name__}: {exc}"


_load_all()
