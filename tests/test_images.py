"""Image input: formats, limits, colour modes, EXIF orientation and decompression bombs.

In process through `emulator.images`, and over the wire through a probe server whose
DetectFaces decodes `Image` with `load_image` and answers what it decoded.
"""

from __future__ import annotations

import base64
import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from rekognition_emulator.emulator.media.images import (
    MAX_BYTES,
    MIN_SIDE,
    decode,
    header_size,
    image_format,
    load_image,
)
from rekognition_emulator.emulator.server import errors
from tests.conftest import make_client
from tests.test_protocol import assert_error_reply
from tests.wire import call, implemented_image_operations


# -- image builders -----------------------------------------------------------------------
def png(image: Image.Image, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", **kw)
    return out.getvalue()


def jpeg(image: Image.Image, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, **kw)
    return out.getvalue()


def quadrants(width: int = 200, height: int = 120) -> Image.Image:
    """Red left half, blue right half, a green block top-left: every orientation differs."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    image.paste((0, 255, 0), (0, 0, width // 5, height // 5))
    return image


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return jpeg(image, exif=exif.tobytes())


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, followed by a tiny (truncated) IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda kind, data: (  # noqa: E731
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    )
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real JPEG whose SOF0 is rewritten to claim width x height."""
    data = bytearray(jpeg(Image.new("RGB", (100, 100))))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def gif_real() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), (1, 2, 3)).save(out, "GIF")
    return out.getvalue()


def bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 100)).save(out, "BMP")
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 100)).save(out, "WEBP")
    return out.getvalue()


# -- formats ------------------------------------------------------------------------------
INVALID = {
    "text": lambda: b"hello, not an image",
    "gif-tiny": lambda: GIF,
    "gif": gif_real,
    "bmp": bmp,
    "webp": webp,
    "png-magic-only": lambda: b"\x89PNG\r\n\x1a\n",
    "jpeg-magic-no-frame": lambda: b"\xff\xd8\xff\xe0" + b"\0" * 200,
}


@pytest.mark.parametrize("make", INVALID.values(), ids=INVALID.keys())
def test_invalid_image_format(make):
    with pytest.raises(errors.InvalidImageFormatException) as info:
        decode(make())
    assert info.value.message.startswith("Request has invalid image format")


def test_empty_image_is_invalid():
    # Over the wire the model's min length answers first (see test_validation); an empty
    # S3 object, or a handler's own call, lands here.
    with pytest.raises(errors.InvalidImageFormatException):
        load_image(None, {"Bytes": b""})  # type: ignore[arg-type]


def test_truncated_jpeg_is_invalid():
    data = jpeg(Image.new("RGB", (200, 200), (9, 9, 9)))
    with pytest.raises(errors.InvalidImageFormatException):
        decode(data[:300])


def test_format_and_header_size():
    assert image_format(png(Image.new("RGB", (3, 4)))) == "png"
    assert image_format(jpeg(Image.new("RGB", (3, 4)))) == "jpeg"
    assert image_format(GIF) is None
    assert header_size(png(Image.new("RGB", (321, 123))), "png") == (321, 123)
    assert header_size(jpeg(Image.new("RGB", (321, 123))), "jpeg") == (321, 123)
    progressive = jpeg(Image.new("RGB", (321, 123)), progressive=True)
    assert header_size(progressive, "jpeg") == (321, 123)
    assert header_size(with_orientation(quadrants(), 6), "jpeg") == (200, 120)


# -- sizes --------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(79, 200), (200, 79), (79, 79), (1, 1)])
def test_smaller_than_80_px(size):
    with pytest.raises(errors.InvalidParameterException) as info:
        decode(png(Image.new("RGB", size)))
    message = info.value.message
    assert f"{size[0]}x{size[1]}" in message and str(MIN_SIDE) in message


def test_80_px_is_enough():
    assert decode(png(Image.new("RGB", (80, 80)))).rgb.shape == (80, 80, 3)


def test_too_many_bytes():
    data = jpeg(Image.new("RGB", (100, 100)))
    with pytest.raises(errors.ImageTooLargeException):
        decode(data + b"\0" * (MAX_BYTES - len(data) + 1))
    decode(data, max_bytes=len(data))


@pytest.mark.parametrize(
    "data", [png_header_only(50_000, 50_000), jpeg_with_size(30_000, 200)], ids=["png", "jpeg"]
)
def test_decompression_bomb_refused_from_the_header(data):
    # The pixel data behind these headers is garbage: a refusal that names the dimensions,
    # fast, proves the header alone was read.
    started = time.perf_counter()
    with pytest.raises(errors.ImageTooLargeException) as info:
        decode(data)
    assert time.perf_counter() - started < 0.5
    assert "x" in info.value.message


def test_pixel_cap_without_side_cap():
    with pytest.raises(errors.ImageTooLargeException) as info:
        decode(png_header_only(20_000, 20_000), max_side=100_000)
    assert "pixels" in info.value.message


def test_real_compressed_bomb_is_refused_cheaply():
    # 12,000 x 12,000 of zeros: 144 MB of pixels in ~140 KB of PNG.
    width = height = 12_000
    raw = zlib.compress((b"\0" + b"\0" * width) * height, 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    assert len(data) < MAX_BYTES
    started = time.perf_counter()
    with pytest.raises(errors.ImageTooLargeException):
        decode(data)
    assert time.perf_counter() - started < 0.5


# -- colour modes -------------------------------------------------------------------------
def palette_image() -> Image.Image:
    image = Image.new("P", (100, 90))
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    image.paste(1, (0, 0, 100, 90))
    return image


@pytest.mark.parametrize(
    "data, pixel",
    [
        (png(Image.new("L", (100, 90), 128)), [128, 128, 128]),
        (png(Image.new("LA", (100, 90), (77, 255))), [77, 77, 77]),
        (png(Image.new("RGB", (100, 90), (200, 100, 50))), [200, 100, 50]),
        (png(Image.new("RGBA", (100, 90), (200, 100, 50, 255))), [200, 100, 50]),
        (png(palette_image()), [10, 200, 30]),
        (png(Image.new("1", (100, 90), 1)), [255, 255, 255]),
        (cv2.imencode(".png", np.full((90, 100), 40000, np.uint16))[1].tobytes(), [156] * 3),
        (
            cv2.imencode(
                ".png", np.dstack([np.full((90, 100), v, np.uint16) for v in (65535, 0, 20000)])
            )[1].tobytes(),
            [78, 0, 255],  # OpenCV writes BGR: B=65535, R=20000 -> RGB (78, 0, 255)
        ),
        (jpeg(Image.new("L", (100, 90), 60)), [60, 60, 60]),
        (jpeg(Image.new("RGB", (100, 90), (0, 0, 255)), progressive=True), [0, 0, 255]),
    ],
    ids=[
        "grey",
        "grey-alpha",
        "rgb",
        "rgba",
        "palette",
        "1-bit",
        "grey-16",
        "rgb-16",
        "jpeg-grey",
        "jpeg-progressive",
    ],
)
def test_colour_modes_decode_to_rgb(data, pixel):
    image = decode(data)
    assert image.rgb.shape == (90, 100, 3) and image.rgb.dtype == np.uint8
    assert (image.width, image.height) == (100, 90)
    assert np.abs(image.rgb[45, 50].astype(int) - pixel).max() <= 2, image.rgb[45, 50]


def test_pixels_are_rgb_not_bgr():
    image = decode(png(quadrants()))
    assert image.rgb[60, 150].tolist() == [0, 0, 255]  # blue right half
    assert image.rgb[5, 5].tolist() == [0, 255, 0]


# -- EXIF orientation ---------------------------------------------------------------------
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation):
    data = with_orientation(quadrants(), orientation)
    decoded = decode(data).rgb
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert decoded.shape == expected.shape
    assert decoded.shape[:2] == ((120, 200) if orientation <= 4 else (200, 120))
    assert np.abs(decoded.astype(int) - expected).mean() < 2


def test_orientation_6_is_a_quarter_turn_clockwise():
    decoded = decode(with_orientation(quadrants(), 6)).rgb
    # Displayed upright: the stored left (red) half is on top, the green corner top-right.
    assert decoded.shape[:2] == (200, 120)
    assert np.abs(decoded[20, 60].astype(int) - [255, 0, 0]).max() < 8
    assert np.abs(decoded[180, 60].astype(int) - [0, 0, 255]).max() < 8
    assert np.abs(decoded[5, 115].astype(int) - [0, 255, 0]).max() < 8


def test_no_exif_means_no_rotation():
    assert decode(jpeg(quadrants())).rgb.shape[:2] == (120, 200)


def test_minimum_side_applies_to_the_displayed_image():
    # 200 x 79 stored, rotated to 79 x 200: too small either way, and the message says so.
    with pytest.raises(errors.InvalidParameterException) as info:
        decode(with_orientation(Image.new("RGB", (200, 79)), 6))
    assert "79x200" in info.value.message


# -- over the wire ------------------------------------------------------------------------
def detect(endpoint: str, data: bytes):
    return call(endpoint, "DetectFaces", {"Image": {"Bytes": base64.b64encode(data).decode()}})


def test_wire_decodes_modes_and_orientation(probe):
    probe_out = detect(probe.endpoint, png(palette_image())).json["Probe"]
    assert probe_out["format"] == "png" and probe_out["center"] == [10, 200, 30]
    probe_out = detect(probe.endpoint, with_orientation(quadrants(), 8)).json["Probe"]
    assert (probe_out["width"], probe_out["height"]) == (120, 200)
    assert probe_out["format"] == "jpeg" and probe_out["dtype"] == "uint8"


@pytest.mark.parametrize(
    "data, code",
    [
        (b"just text", "InvalidImageFormatException"),
        (GIF, "InvalidImageFormatException"),
        (b"\x89PNG\r\n\x1a\n", "InvalidImageFormatException"),
        (png_header_only(50_000, 50_000), "ImageTooLargeException"),
        (png(Image.new("RGB", (79, 100))), "InvalidParameterException"),
    ],
    ids=["text", "gif", "png-magic-only", "bomb", "79px"],
)
def test_wire_errors(probe, data, code):
    body = assert_error_reply(detect(probe.endpoint, data), 400, code)
    if code == "InvalidParameterException":
        assert "79x100" in body["message"] and "80" in body["message"]


def test_wire_errors_through_boto3(probe):
    client = make_client("rekognition", probe.endpoint)
    with pytest.raises(client.exceptions.InvalidImageFormatException):
        client.detect_faces(Image={"Bytes": gif_real()})
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.detect_faces(Image={"Bytes": png(Image.new("RGB", (100, 79)))})
    assert "100x79" in info.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ImageTooLargeException):
        client.detect_faces(Image={"Bytes": jpeg_with_size(10_001, 100)})
    assert client.detect_faces(Image={"Bytes": png(Image.new("L", (80, 80)))})["FaceDetails"] == []


def test_wire_image_member_must_hold_one_source(probe):
    data = base64.b64encode(png(Image.new("RGB", (100, 100)))).decode()
    both = {"Bytes": data, "S3Object": {"Bucket": "bucket", "Name": "k"}}
    for image in (both, {}):
        reply = call(probe.endpoint, "DetectFaces", {"Image": image})
        assert_error_reply(reply, 400, "InvalidParameterException")


def test_wire_keeps_serving_after_bad_images(probe):
    for data in (b"x", GIF, png_header_only(60_000, 60_000), b"\xff\xd8\xff" + b"\xff" * 5000):
        assert detect(probe.endpoint, data).status == 400
    assert detect(probe.endpoint, png(Image.new("RGB", (100, 100)))).status == 200


def test_implemented_image_operations_share_the_limits(endpoint):
    """The real handlers (whichever exist yet) answer bad images as load_image does."""
    ops = implemented_image_operations(endpoint)
    for op in ops:
        for data, code in [
            (gif_real(), "InvalidImageFormatException"),
            (png(Image.new("RGB", (79, 100))), "InvalidParameterException"),
            (png_header_only(50_000, 50_000), "ImageTooLargeException"),
        ]:
            reply = call(endpoint, op, {"Image": {"Bytes": base64.b64encode(data).decode()}})
            assert_error_reply(reply, 400, code)
