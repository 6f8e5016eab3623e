"""Image input shared by every image operation: Bytes or S3Object -> an RGB array.

Follows AWS's limits and errors: JPEG or PNG only (by magic bytes), 5 MB for bytes and
15 MB for S3 objects, at least 80 px a side, and a pixel cap read from the header before
decoding so that a decompression bomb is refused without being decoded. A JPEG's EXIF
orientation is applied (OpenCV does it on IMREAD_COLOR), so coordinates refer to the
image as displayed, as AWS documents.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from rekognition_emulator.emulator.server import errors

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import RequestContext

MAX_BYTES = 5 * 1024 * 1024
MAX_S3_BYTES = 15 * 1024 * 1024
MIN_SIDE = 80
# DetectLabels accepts up to 10,000 px a side; nothing AWS accepts is larger.
MAX_SIDE = 10_000
MAX_PIXELS = 100_000_000

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True)
class DecodedImage:
    rgb: np.ndarray  # H x W x 3, uint8, RGB
    format: str  # "jpeg" | "png"
    size_bytes: int

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def image_format(data: bytes) -> str | None:
    if data.startswith(_PNG_MAGIC):
        return "png"
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    return None


def header_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """(width, height) from the file header, without decoding the pixels."""
    if fmt == "png":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    # JPEG: walk the markers to the first start-of-frame.
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if i + 9 > n:
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def decode(
    data: bytes, *, max_bytes: int = MAX_BYTES, min_side: int = MIN_SIDE, max_side: int = MAX_SIDE
) -> DecodedImage:
    """Bytes -> DecodedImage, or the AWS error the bytes earn."""
    if len(data) > max_bytes:
        raise errors.ImageTooLargeException(
            f"Image size is too large: {len(data)} bytes is over the {max_bytes} byte limit."
        )
    fmt = image_format(data)
    if fmt is None:
        raise errors.InvalidImageFormatException(
            "Request has invalid image format: only JPEG and PNG images are supported."
        )
    size = header_size(data, fmt)
    if size is None:
        raise errors.InvalidImageFormatException(
            f"Request has invalid image format: the {fmt.upper()} header could not be read."
        )
    width, height = size
    if width > max_side or height > max_side:
        raise errors.ImageTooLargeException(
            f"Image dimensions {width}x{height} exceed the maximum of {max_side} pixels a side."
        )
    if width * height > MAX_PIXELS:
        raise errors.ImageTooLargeException(
            f"Image dimensions {width}x{height} exceed the maximum of {MAX_PIXELS} pixels."
        )
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise errors.InvalidImageFormatException(
            f"Request has invalid image format: the {fmt.upper()} data could not be decoded."
        )
    h, w = bgr.shape[:2]
    if w < min_side or h < min_side:
        raise errors.InvalidParameterException(
            f"Request has invalid parameters: the image is {w}x{h} pixels; "
            f"images must be at least {min_side} pixels wide and high."
        )
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return DecodedImage(rgb=rgb, format=fmt, size_bytes=len(data))


def image_bytes(ctx: RequestContext, image: dict[str, Any]) -> tuple[bytes, int]:
    """The raw bytes of an Image member and the size limit that applies to them."""
    if "Bytes" in image and "S3Object" in image:
        raise errors.InvalidParameterException(
            "Request has invalid parameters: give either Image.Bytes or Image.S3Object, not both."
        )
    if "Bytes" in image:
        return image["Bytes"], MAX_BYTES
    s3 = image.get("S3Object")
    if s3 is None:
        raise errors.InvalidParameterException(
            "Request has invalid parameters: the image needs Bytes or S3Object."
        )
    from rekognition_emulator.emulator.aws.s3 import read_object

    data = read_object(ctx, s3.get("Bucket"), s3.get("Name"), s3.get("Version"), MAX_S3_BYTES)
    return data, MAX_S3_BYTES


def load_image(
    ctx: RequestContext,
    image: dict[str, Any] | None,
    *,
    min_side: int = MIN_SIDE,
    max_side: int = MAX_SIDE,
    max_bytes: int | None = None,
) -> DecodedImage:
    """The decoded image of an `Image` request member (Bytes or S3Object)."""
    if image is None:
        raise errors.InvalidParameterException("Request has invalid parameters: no image given.")
    data, limit = image_bytes(ctx, image)
    if not data:
        raise errors.InvalidImageFormatException(
            "Request has invalid image format: the image is empty."
        )
    return decode(
        data, max_bytes=min(limit, max_bytes or limit), min_side=min_side, max_side=max_side
    )
