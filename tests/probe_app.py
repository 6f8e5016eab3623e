"""A real emulator whose handler table has test-only probes in place of a few operations.

    python -m tests.probe_app serve [serve flags]

It serves every real operation plus these (tests/wire.py's `probe_server()` starts it):

    ListCollections     echoes the caller: CollectionIds [account, region],
                        FaceModelVersions [access key or "anonymous", request id]
    DetectFaces         decodes Image with media.images.load_image and answers
                        {"FaceDetails": [], "Probe": {width, height, format, pixels ...}}
                        ("Probe" is outside the service model: the probe's serializer writes
                        it beside what the model has, so it is not reported as dropped)
    DetectLabels        raises RuntimeError (an unexpected failure)
    DetectText          returns a value JSON cannot hold (a failure while serialising)
    DescribeCollection  returns a datetime and numpy scalars (the serialiser's conversions)

and leaves one out, as a build without it would: ListMediaAnalysisJobs (no required input)
answers 501 NotImplementedException, the path every operation took before it was built.

The table is handed to `cli.serve(argv, operations)`, as any embedding of the emulator would:
nothing global is patched.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

SECRET_MARKER = "probe-secret-d41d8cd98f00"


def _echo(ctx: Any, params: dict) -> dict:
    return {
        "CollectionIds": [ctx.account, ctx.region],
        "FaceModelVersions": [ctx.access_key or "anonymous", ctx.request_id],
    }


def _image(ctx: Any, params: dict) -> dict:
    from rekognition_emulator.emulator.media.images import load_image

    img = load_image(ctx, params.get("Image"))
    rgb = img.rgb
    h, w = rgb.shape[:2]
    return {
        "FaceDetails": [],
        "Probe": {
            "width": img.width,
            "height": img.height,
            "format": img.format,
            "size_bytes": img.size_bytes,
            "dtype": str(rgb.dtype),
            "shape": list(rgb.shape),
            "top_left": rgb[0, 0].tolist(),
            "top_right": rgb[0, w - 1].tolist(),
            "bottom_left": rgb[h - 1, 0].tolist(),
            "center": rgb[h // 2, w // 2].tolist(),
        },
    }


def _boom(ctx: Any, params: dict) -> dict:
    raise RuntimeError(f"{SECRET_MARKER}: a handler failed unexpectedly")


def _unserialisable(ctx: Any, params: dict) -> dict:
    return {"TextDetections": [object()]}


def _conversions(ctx: Any, params: dict) -> dict:
    import numpy as np

    return {
        "CollectionARN": f"aws:rekognition:{ctx.region}:{ctx.account}:collection/probe",
        "FaceCount": np.int64(3),
        "UserCount": np.int32(0),
        "FaceModelVersion": "7.0",
        "CreationTimestamp": dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=dt.UTC),
    }


NOT_BUILT = "ListMediaAnalysisJobs"

PROBES = {
    "ListCollections": _echo,
    "DetectFaces": _image,
    "DetectLabels": _boom,
    "DetectText": _unserialisable,
    "DescribeCollection": _conversions,
}


def _serializer_keeping_the_probe() -> None:
    import json

    from rekognition_emulator.emulator.server import serializer

    original = serializer.serialize_output

    def serialize_output(operation: str, result: dict) -> bytes:
        probe = result.pop("Probe", None) if operation == "DetectFaces" else None
        body = original(operation, result)
        if probe is None:
            return body
        return json.dumps({**json.loads(body), "Probe": probe}).encode()

    serializer.serialize_output = serialize_output


def main(argv: list[str]) -> int:
    from rekognition_emulator.emulator.cli import serve
    from rekognition_emulator.emulator.server.registry import all_operations

    _serializer_keeping_the_probe()

    if argv[:1] == ["serve"]:
        argv = argv[1:]
    table = {**all_operations(), **PROBES}
    del table[NOT_BUILT]
    return serve(argv, operations=table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
