"""DetectProtectiveEquipment: persons, their body parts and the equipment on them.

The per-frame work is handlers/analysis/ppe.py (shared with video); this module reads the
request, applies the operation's own image limits and speaks for it.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.handlers.analysis import ppe

# DetectProtectiveEquipment's own limits (CONTRACT.md): 64 to 4096 pixels a side, 4 MB.
MIN_SIDE = 64
MAX_SIDE = 4096
MAX_BYTES = 4 * 1024 * 1024


@operation("DetectProtectiveEquipment")
def detect_protective_equipment(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    image = load_image(
        ctx, params.get("Image"), min_side=MIN_SIDE, max_side=MAX_SIDE, max_bytes=MAX_BYTES
    )
    return ppe.detect_protective_equipment(
        image.rgb, summarization=params.get("SummarizationAttributes")
    )
