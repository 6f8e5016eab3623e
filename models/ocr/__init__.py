"""Text reading (DetectText): PP-OCRv6 detection, orientation and recognition models.

Knows nothing of AWS: `reader().read(rgb)` gives lines with words, polygons in pixels and
confidences 0..1; `handlers/text.py` turns them into TextDetections.
"""

from __future__ import annotations

from functools import lru_cache

from rekognition_emulator.models.ocr.engine import OcrLine, OcrWord, TextReader

__all__ = ["OcrLine", "OcrWord", "TextReader", "reader"]


@lru_cache(maxsize=1)
def _characters() -> list[str]:
    from rekognition_emulator.models.runtime import onnx_session

    # The recognition model carries its own character list (one per line) in its metadata.
    meta = onnx_session("ocr_rec").get_modelmeta().custom_metadata_map
    return meta["character"].split("\n")


@lru_cache(maxsize=1)
def reader() -> TextReader:
    from rekognition_emulator.models.runtime import onnx_session

    return TextReader(
        lambda: onnx_session("ocr_det"),
        lambda: onnx_session("ocr_cls"),
        lambda: onnx_session("ocr_rec"),
        _characters,
    )
