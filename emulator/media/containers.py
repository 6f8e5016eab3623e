"""What a video file's container says: format, codecs, frame rate, duration, colour range and
audio tracks, read from the file's own structures in pure Python.

OpenCV decodes the pictures but tells none of this in the words Rekognition uses. AWS names
formats and codecs as FFmpeg does ("QuickTime / MOV" is the long name of FFmpeg's mov
demuxer, which reads .mp4 and .mov alike; "h264"; "aac"), so the names here are FFmpeg's.

- ISO base media / QuickTime (.mp4, .mov, .m4v): the `moov` box tree: each track's `mdhd`
  (timescale, duration), `hdlr` (video or sound), `stsd` (codec, size, `avcC` with the SPS,
  `colr`, `esds` with the AAC AudioSpecificConfig), `stts` (frame times) and `stsz` (sample
  sizes: how the audio's silence is told, see `AudioTrack.silent`).
- AVI: the RIFF header list: `avih`, each stream's `strh`/`strf`, and the first SPS in the
  `movi` data for the colour range.
- Other containers are named (Matroska, MPEG-TS ...) so the refusal can say what was found.

Frame rate as FFmpeg averages it (frames x timescale / summed frame durations, so
30000/1001 for NTSC), duration as the video track's summed frame durations, colour range from
the `colr` box's full-range flag, else the SPS's `video_full_range_flag`, else limited.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from rekognition_emulator.emulator.media import h264

QUICKTIME = "QuickTime / MOV"
AVI = "AVI (Audio Video Interleaved)"

# Sample-entry fourcc -> FFmpeg codec name.
_VIDEO_CODECS = {
    b"avc1": "h264",
    b"avc3": "h264",
    b"hvc1": "hevc",
    b"hev1": "hevc",
    b"mp4v": "mpeg4",
    b"av01": "av1",
    b"vp09": "vp9",
    b"vp08": "vp8",
    b"jpeg": "mjpeg",
    b"mjpa": "mjpeg",
    b"mjpb": "mjpeg",
    b"apch": "prores",
    b"apcn": "prores",
    b"apcs": "prores",
    b"apco": "prores",
    b"ap4h": "prores",
    b"s263": "h263",
    b"h263": "h263",
}
_AUDIO_CODECS = {
    b"ac-3": "ac3",
    b"ec-3": "eac3",
    b"Opus": "opus",
    b"fLaC": "flac",
    b"alac": "alac",
    b"sowt": "pcm_s16le",
    b"twos": "pcm_s16be",
    b"lpcm": "pcm_s16le",
    b".mp3": "mp3",
}
# MPEG-4 objectTypeIndication (esds) -> codec.
_OBJECT_TYPES = {0x40: "aac", 0x66: "aac", 0x67: "aac", 0x68: "aac", 0x69: "mp3", 0x6B: "mp3"}
# AVI BITMAPINFOHEADER.biCompression -> codec.
_AVI_VIDEO = {
    b"H264": "h264",
    b"h264": "h264",
    b"X264": "h264",
    b"x264": "h264",
    b"avc1": "h264",
    b"AVC1": "h264",
    b"DAVC": "h264",
    b"HEVC": "hevc",
    b"hev1": "hevc",
    b"H265": "hevc",
    b"FMP4": "mpeg4",
    b"XVID": "mpeg4",
    b"xvid": "mpeg4",
    b"DIVX": "mpeg4",
    b"DX50": "mpeg4",
    b"MP4V": "mpeg4",
    b"MJPG": "mjpeg",
    b"mjpg": "mjpeg",
}
# AVI WAVEFORMATEX.wFormatTag -> codec.
_AVI_AUDIO = {
    0x0001: "pcm_s16le",
    0x0055: "mp3",
    0x00FF: "aac",
    0x1600: "aac",
    0x1610: "aac",
    0x706D: "aac",
    0x2000: "ac3",
}
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)  # fmt: skip


class ContainerError(ValueError):
    """The file is not a container this module can read, or it is damaged."""


@dataclass
class AudioTrack:
    codec: str
    sample_rate: int
    channels: int
    duration_ms: int
    # Per coded frame: (start, duration) in seconds and the frame's size in bytes (ISO
    # media only; empty where the container does not list them).
    frames: list[tuple[float, float, int]] = field(default_factory=list)

    def silent(self, start: float, end: float) -> bool | None:
        """Whether the audio between `start` and `end` (seconds) is digital silence; None
        when this cannot be told from the stream (no frame table, or not AAC).

        An AAC encoder codes a frame of digital silence in a few bytes (FFmpeg's: 4 bytes
        mono, 6 stereo, now and then up to 23; measured), while any sound, even dither at
        -90 dB, costs it a full frame (over 130 bytes at 64 kbit/s, measured): so a frame
        counts as silent when it is at most SILENT_BYTES + SILENT_BYTES_PER_CHANNEL x
        channels bytes (sound at 24 kbit/s and more stays above that). Quiet sound that is
        not digital silence counts as sound, and a constant-bitrate encoder that pads its
        frames reads as sound throughout. AAC's overlapping windows put the start of a sound
        into the frame before it (about 21 ms early at 48 kHz)."""
        if self.codec != "aac" or not self.frames:
            return None
        limit = SILENT_BYTES + SILENT_BYTES_PER_CHANNEL * max(1, self.channels)
        for t0, dt, size in self.frames:
            if t0 + dt <= start:
                continue
            if t0 >= end:
                break
            if size > limit:
                return False
        return True


SILENT_BYTES = 24
SILENT_BYTES_PER_CHANNEL = 4


@dataclass
class ContainerInfo:
    format: str  # FFmpeg's long name of the demuxer, e.g. "QuickTime / MOV"
    video_codec: str | None  # FFmpeg's codec name, e.g. "h264"; None: no video track
    width: int = 0
    height: int = 0
    frame_rate: Fraction | None = None  # average, as FFmpeg computes it
    frame_count: int = 0
    duration_ms: int = 0
    full_range: bool = False  # FULL colour range (0-255), else LIMITED
    audio: list[AudioTrack] = field(default_factory=list)


def sniff(head: bytes) -> str | None:
    """The container a file's first bytes announce (FFmpeg's long names), or None."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return QUICKTIME
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska / WebM"
    if head[:1] == b"\x47" and len(head) > 188 and head[188:189] == b"\x47":
        return "MPEG-TS (MPEG-2 Transport Stream)"
    if head[:4] == b"\x00\x00\x01\xba":
        return "MPEG-PS (MPEG-2 Program Stream)"
    if head[:3] == b"FLV":
        return "FLV (Flash Video)"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[:4] in (b"\x00\x00\x00\x01", b"\x00\x00\x01\x67") or head[:3] == b"\x00\x00\x01":
        return "raw H.264 video"
    return None


def probe(path: str | Path) -> ContainerInfo:
    """Read the container facts of the video at `path`; ContainerError if it cannot be."""
    with open(path, "rb") as f:
        head = f.read(512)
        kind = sniff(head)
        if kind is None:
            raise ContainerError("the file is not a video container (unknown format)")
        f.seek(0)
        try:
            if kind == QUICKTIME:
                return _Iso(f).read()
            if kind == AVI:
                return _Avi(f).read()
        except (struct.error, IndexError, ValueError) as exc:
            raise ContainerError(f"the {kind} container is damaged ({exc})") from None
        return ContainerInfo(format=kind, video_codec=None)


# -- ISO base media / QuickTime -------------------------------------------------------------
def _boxes(f: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes between `start` and `end`."""
    out = []
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        size, kind = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", f.read(8))[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break  # a truncated last box: keep what came before
        out.append((kind, pos + header, pos + size))
        pos += size
    return out


def _child(boxes: list[tuple[bytes, int, int]], kind: bytes) -> tuple[int, int] | None:
    for k, s, e in boxes:
        if k == kind:
            return s, e
    return None


@dataclass
class _Track:
    handler: bytes = b""
    timescale: int = 0
    duration: int = 0
    entry: bytes = b""  # sample-entry fourcc
    entry_body: bytes = b""
    deltas: list[tuple[int, int]] = field(default_factory=list)  # stts (count, delta)
    sizes: list[int] = field(default_factory=list)  # stsz
    # The edit list's (segment duration in the movie's timescale, media time) entries.
    edits: list[tuple[int, int]] = field(default_factory=list)


class _Iso:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        f.seek(0, io.SEEK_END)
        self.size = f.tell()
        self.movie_timescale = 0

    def _read(self, start: int, end: int) -> bytes:
        self.f.seek(start)
        return self.f.read(end - start)

    def _payload(self, boxes: list[tuple[bytes, int, int]], kind: bytes) -> bytes | None:
        """The payload of the first `kind` box among `boxes`, or None."""
        found = _child(boxes, kind)
        return None if found is None else self._read(*found)

    def read(self) -> ContainerInfo:
        top = _boxes(self.f, 0, self.size)
        moov = _child(top, b"moov")
        if moov is None:
            raise ContainerError("the QuickTime / MOV file has no moov box (not a complete video)")
        parts = _boxes(self.f, *moov)
        body = self._payload(parts, b"mvhd")
        if body is not None:
            self.movie_timescale = struct.unpack(
                ">I", body[20:24] if body[0] == 1 else body[12:16]
            )[0]
        tracks = [self._track(s, e) for k, s, e in parts if k == b"trak"]
        info = ContainerInfo(format=QUICKTIME, video_codec=None)
        video = next((t for t in tracks if t.handler == b"vide"), None)
        if video is not None:
            self._video(video, info)
        for track in tracks:
            if track.handler == b"soun":
                info.audio.append(self._audio(track))
        return info

    def _track(self, start: int, end: int) -> _Track:
        t = _Track()
        trak = _boxes(self.f, start, end)
        edts = _child(trak, b"edts")
        body = self._payload(_boxes(self.f, *edts), b"elst") if edts else None
        if body is not None:
            wide = body[0] == 1
            (n,) = struct.unpack(">I", body[4:8])
            step = 20 if wide else 12
            fmt = ">Qq" if wide else ">Ii"
            for i in range(n):
                at = 8 + i * step
                t.edits.append(struct.unpack(fmt, body[at : at + (16 if wide else 8)]))
        mdia = _child(trak, b"mdia")
        if mdia is None:
            return t
        parts = _boxes(self.f, *mdia)
        body = self._payload(parts, b"mdhd")
        if body is not None:
            if body[0] == 1:
                t.timescale, t.duration = struct.unpack(">IQ", body[20:32])
            else:
                t.timescale, t.duration = struct.unpack(">II", body[12:20])
        body = self._payload(parts, b"hdlr")
        if body is not None:
            t.handler = body[8:12]
        minf = _child(parts, b"minf")
        stbl = _child(_boxes(self.f, *minf), b"stbl") if minf else None
        if stbl is None:
            return t
        table = _boxes(self.f, *stbl)
        body = self._payload(table, b"stsd")
        if body is not None:
            if len(body) >= 16:
                size, t.entry = struct.unpack(">I4s", body[8:16])
                t.entry_body = body[16 : 8 + size]
        body = self._payload(table, b"stts")
        if body is not None:
            (n,) = struct.unpack(">I", body[4:8])
            t.deltas = [struct.unpack(">II", body[8 + 8 * i : 16 + 8 * i]) for i in range(n)]
        body = self._payload(table, b"stsz") if t.handler == b"soun" else None
        if body is not None:
            uniform, n = struct.unpack(">II", body[4:12])
            t.sizes = (
                [uniform] * n if uniform else list(struct.unpack(f">{n}I", body[12 : 12 + 4 * n]))
            )
        return t

    def _video(self, t: _Track, info: ContainerInfo) -> None:
        info.video_codec = _VIDEO_CODECS.get(t.entry, t.entry.decode("latin-1").strip().lower())
        body = t.entry_body
        # VisualSampleEntry: 6 reserved + 2 index + 16 pre-defined/reserved, then width, height.
        if len(body) >= 28:
            info.width, info.height = struct.unpack(">HH", body[24:28])
        frames = sum(c for c, _ in t.deltas)
        summed = _summed_durations(t.deltas)
        info.frame_count = frames
        if t.timescale and summed and frames:
            info.frame_rate = Fraction(t.timescale * frames, summed)
        total = summed or t.duration
        if t.timescale:
            info.duration_ms = int(total * 1000 // t.timescale)
        # Child boxes follow the 78-byte VisualSampleEntry fields.
        children = _inline_boxes(body[78:])
        colr = children.get(b"colr")
        full = None
        if colr is not None and colr[:4] == b"nclx" and len(colr) >= 11:
            full = bool(colr[10] & 0x80)
        if full is None and b"avcC" in children:
            sps = _avcc_sps(children[b"avcC"])
            if sps is not None:
                try:
                    full = h264.full_range(sps)
                except ValueError:
                    full = None
        info.full_range = bool(full)

    def _audio(self, t: _Track) -> AudioTrack:
        body = t.entry_body
        codec = _AUDIO_CODECS.get(t.entry, t.entry.decode("latin-1").strip().lower())
        channels = rate = 0
        children_at = 28
        if len(body) >= 28:
            version = struct.unpack(">H", body[8:10])[0]
            channels = struct.unpack(">H", body[16:18])[0]
            rate = struct.unpack(">I", body[24:28])[0] >> 16
            children_at += {1: 16, 2: 36}.get(version, 0)
        children = _inline_boxes(body[children_at:])
        esds = children.get(b"esds")
        if esds is None and b"wave" in children:  # QuickTime keeps it inside 'wave'
            esds = _inline_boxes(children[b"wave"]).get(b"esds")
        if t.entry == b"mp4a":
            codec = "aac"
            if esds is not None:
                found = _esds(esds)
                if found is not None:
                    codec, asc_rate, asc_channels = found
                    rate = asc_rate or rate
                    channels = asc_channels or channels
        if not rate:
            rate = t.timescale
        # The edit list cuts the encoder's priming samples: the duration and the frame times
        # are those of what plays (FFmpeg's stream duration, AWS's DurationMillis).
        played = [(d, m) for d, m in t.edits if m >= 0]
        skip = played[0][1] if played else 0
        if played and self.movie_timescale:
            duration_ms = int(sum(d for d, _ in played) * 1000 // self.movie_timescale)
        else:
            total = t.duration or _summed_durations(t.deltas)
            duration_ms = int(total * 1000 // t.timescale) if t.timescale else 0
        frames: list[tuple[float, float, int]] = []
        if t.timescale and t.sizes:
            clock = -skip
            sizes = iter(t.sizes)
            for count, delta in t.deltas:
                for _ in range(count):
                    size = next(sizes, None)
                    if size is None:
                        break
                    frames.append((clock / t.timescale, delta / t.timescale, size))
                    clock += delta
        return AudioTrack(codec, rate, channels, duration_ms, frames)


def _summed_durations(deltas: list[tuple[int, int]]) -> int:
    """The frame durations' sum, FFmpeg's way: a last single frame far longer than the
    average (a muxer's placeholder) counts as an average frame."""
    total = sum(c * d for c, d in deltas)
    frames = sum(c for c, _ in deltas)
    if len(deltas) > 1 and deltas[-1][0] == 1 and frames > 100:
        rest = total - deltas[-1][1]
        if deltas[-1][1] / 10 > rest / (frames - 1):
            total = rest + rest // (frames - 1)
    return total


def _inline_boxes(data: bytes) -> dict[bytes, bytes]:
    """Boxes packed in a byte string (a sample entry's children): type -> payload."""
    out: dict[bytes, bytes] = {}
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size < 8 or pos + size > len(data):
            break
        out.setdefault(kind, data[pos + 8 : pos + size])
        pos += size
    return out


def _avcc_sps(avcc: bytes) -> bytes | None:
    if len(avcc) < 8:
        return None
    count = avcc[5] & 0x1F
    if not count:
        return None
    (length,) = struct.unpack(">H", avcc[6:8])
    return avcc[8 : 8 + length] or None


def _descriptor(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, payload start, payload end) of the MPEG-4 descriptor at `pos`."""
    tag = data[pos]
    pos += 1
    length = 0
    for _ in range(4):
        b = data[pos]
        pos += 1
        length = (length << 7) | (b & 0x7F)
        if not b & 0x80:
            break
    return tag, pos, min(pos + length, len(data))


def _esds(esds: bytes) -> tuple[str, int, int] | None:
    """(codec, sample rate, channels) from an esds box's payload (after version/flags)."""
    data = esds[4:]
    tag, start, end = _descriptor(data, 0)
    if tag != 0x03:
        return None
    flags = data[start + 2]
    pos = start + 3
    if flags & 0x80:
        pos += 2
    if flags & 0x40:
        pos += 1 + data[pos]
    if flags & 0x20:
        pos += 2
    tag, start, end = _descriptor(data, pos)
    if tag != 0x04:
        return None
    codec = _OBJECT_TYPES.get(data[start], f"mpeg4 object type 0x{data[start]:02x}")
    pos = start + 13
    if pos >= end:
        return codec, 0, 0
    tag, start, end = _descriptor(data, pos)
    if tag != 0x05 or codec != "aac" or end - start < 2:
        return codec, 0, 0
    bits = int.from_bytes(data[start:end], "big")
    nbits = (end - start) * 8

    def take(n: int) -> int:
        nonlocal nbits
        nbits -= n
        return (bits >> nbits) & ((1 << n) - 1)

    object_type = take(5)
    if object_type == 31:
        take(6)
    index = take(4)
    rate = take(24) if index == 15 else (_AAC_RATES[index] if index < len(_AAC_RATES) else 0)
    channels = take(4)
    return "aac", rate, channels


# -- AVI ------------------------------------------------------------------------------------
class _Avi:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        f.seek(0, io.SEEK_END)
        self.size = f.tell()

    def _chunks(self, start: int, end: int) -> list[tuple[bytes, bytes, int, int]]:
        """(id, list type or b"", payload start, payload end) of the RIFF chunks."""
        out = []
        pos = start
        while pos + 8 <= end:
            self.f.seek(pos)
            cid, size = struct.unpack("<4sI", self.f.read(8))
            body = pos + 8
            stop = min(body + size, end)  # a list's size counts its 4-byte type
            kind = b""
            if cid in (b"LIST", b"RIFF"):
                kind = self.f.read(4)
                body += 4
            out.append((cid, kind, body, stop))
            pos = body + size + (size & 1) - (4 if kind else 0)
        return out

    def _read(self, start: int, end: int) -> bytes:
        self.f.seek(start)
        return self.f.read(end - start)

    def read(self) -> ContainerInfo:
        info = ContainerInfo(format=AVI, video_codec=None)
        riff = self._chunks(0, self.size)
        if not riff:
            raise ContainerError("the AVI file has no RIFF header")
        _, _, start, end = riff[0]
        top = self._chunks(start, end)
        hdrl = next(((s, e) for c, k, s, e in top if k == b"hdrl"), None)
        if hdrl is None:
            raise ContainerError("the AVI file has no header list")
        for cid, kind, s, e in self._chunks(*hdrl):
            if cid == b"avih":
                body = self._read(s, e)
                info.width, info.height = struct.unpack("<II", body[32:40])
            elif kind == b"strl":
                self._stream(s, e, info)
        if info.video_codec == "h264":
            movi = next(((s, e) for c, k, s, e in top if k == b"movi"), None)
            if movi is not None:
                sps = h264.first_sps(self._read(movi[0], min(movi[1], movi[0] + (1 << 20))))
                if sps is not None:
                    try:
                        info.full_range = bool(h264.full_range(sps))
                    except ValueError:
                        pass
        return info

    def _stream(self, start: int, end: int, info: ContainerInfo) -> None:
        parts = {cid: self._read(s, e) for cid, _, s, e in self._chunks(start, end)}
        strh, strf = parts.get(b"strh", b""), parts.get(b"strf", b"")
        if len(strh) < 36:
            return
        kind = strh[:4]
        scale, rate, _, length = struct.unpack("<IIII", strh[20:36])
        if kind == b"vids" and info.video_codec is None:
            fourcc = strf[16:20] if len(strf) >= 20 else strh[4:8]
            info.video_codec = _AVI_VIDEO.get(fourcc, fourcc.decode("latin-1").strip().lower())
            if len(strf) >= 12:
                width, height = struct.unpack("<ii", strf[4:12])
                info.width, info.height = width or info.width, abs(height) or info.height
            if scale and rate:
                info.frame_rate = Fraction(rate, scale)
                info.frame_count = length
                info.duration_ms = int(length * scale * 1000 // rate)
        elif kind == b"auds" and len(strf) >= 8:
            tag, channels, sample_rate = struct.unpack("<HHI", strf[:8])
            duration_ms = int(length * scale * 1000 // rate) if scale and rate else 0
            info.audio.append(
                AudioTrack(_AVI_AUDIO.get(tag, f"0x{tag:04x}"), sample_rate, channels, duration_ms)
            )
