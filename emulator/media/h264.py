"""What the H.264 sequence parameter set says about colour range.

OpenCV decodes the pixels but does not say whether a stream is full range (0-255 luma) or
limited range (16-235). The SPS's VUI carries `video_full_range_flag` (ITU-T H.264,
section 7.3.2.1.1 and annex E.1.1); this module reads just far enough to find it.
"""

from __future__ import annotations

from collections.abc import Iterator

# Profiles whose SPS carries chroma format, bit depths and scaling matrices (7.3.2.1.1).
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


class _Bits:
    """An MSB-first bit reader with Exp-Golomb codes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bit(self) -> int:
        byte = self.pos >> 3
        if byte >= len(self.data):
            raise ValueError("the SPS ends early")
        value = (self.data[byte] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("an Exp-Golomb code is too long")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def unescape(nal: bytes) -> bytes:
    """The RBSP of a NAL unit: emulation-prevention bytes (00 00 03) removed."""
    out = bytearray()
    zeros = 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _skip_scaling_list(r: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + r.se() + 256) % 256
        last = nxt if nxt != 0 else last


def full_range(sps: bytes) -> bool | None:
    """`video_full_range_flag` of an SPS NAL unit (header byte included); None when the SPS
    has no video signal type (the stream does not say, which decoders read as limited)."""
    if not sps or sps[0] & 0x1F != 7:
        raise ValueError("not a sequence parameter set")
    r = _Bits(unescape(sps[1:]))
    profile = r.bits(8)
    r.bits(16)  # constraint flags, level_idc
    r.ue()  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        chroma_format = r.ue()
        if chroma_format == 3:
            r.bit()  # separate_colour_plane_flag
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.bit()  # qpprime_y_zero_transform_bypass_flag
        if r.bit():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format != 3 else 12):
                if r.bit():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        r.bit()  # delta_pic_order_always_zero_flag
        r.se()  # offset_for_non_ref_pic
        r.se()  # offset_for_top_to_bottom_field
        for _ in range(r.ue()):
            r.se()  # offset_for_ref_frame
    r.ue()  # max_num_ref_frames
    r.bit()  # gaps_in_frame_num_value_allowed_flag
    r.ue()  # pic_width_in_mbs_minus1
    r.ue()  # pic_height_in_map_units_minus1
    if not r.bit():  # frame_mbs_only_flag
        r.bit()  # mb_adaptive_frame_field_flag
    r.bit()  # direct_8x8_inference_flag
    if r.bit():  # frame_cropping_flag
        for _ in range(4):
            r.ue()
    if not r.bit():  # vui_parameters_present_flag
        return None
    if r.bit():  # aspect_ratio_info_present_flag
        if r.bits(8) == 255:  # Extended_SAR
            r.bits(32)
    if r.bit():  # overscan_info_present_flag
        r.bit()
    if not r.bit():  # video_signal_type_present_flag
        return None
    r.bits(3)  # video_format
    return bool(r.bit())


def annexb_nals(data: bytes) -> Iterator[bytes]:
    """NAL units of an Annex B byte stream (start codes 00 00 01 / 00 00 00 01)."""
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i != -1:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        nal = data[start:end].rstrip(b"\x00")
        if nal:
            yield nal


def first_sps(data: bytes) -> bytes | None:
    """The first SPS NAL unit of an Annex B byte stream, if any."""
    return next((nal for nal in annexb_nals(data) if nal[0] & 0x1F == 7), None)
