"""StartSegmentDetection / GetSegmentDetection: shots and technical cues, from every frame.

Every frame is measured (models/shots.py): its black share, its likeness to colour bars and
its change from the frame before.

- SHOT: the video split at each hard cut (a change spike); soft transitions are not cuts, as
  AWS documents. A shot's Confidence is that of the less certain of its two cuts (the
  video's start and end are certain): 100 - 50 / margin**2, where margin >= 1 says how far
  the cut's spike clears the thresholds.
- TECHNICAL_CUE: BlackFrames, ColorBars and Content, contiguous over the whole video.
  BlackFrames: frames where at least BlackFrame.MinCoveragePercentage (99) of the pixels
  have BT.709 luma <= MaxPixelThreshold (0.2) of the luma range (AWS's rule; computed on
  the decoded full-range RGB, where the range's minimum is 0 whatever the stream's
  ColorRange), and no sound: black frames over sound (a fade-out, a voice-over) are Content,
  as AWS documents. Sound is told from the AAC stream (emulator/media/containers.py:
  digital silence is coded in a few bytes a frame); a video without audio is silent.
  Confidence 50..100 with the run's mean black share above the coverage asked for.
  ColorBars: frames of SMPTE or EBU bars (bars likeness 6/7 or more), Confidence 50..100
  with the likeness. Content: the rest, Confidence 100.
  EndCredits, OpeningCredits, StudioLogo and Slate need a model of what credits, logos and
  slates look like; there is none here, so they are never reported.
- MinSegmentConfidence (50 by default) filters each type.

Frame arithmetic follows AWS's published samples: frames count from 0 at the video's
average frame rate; Millis = floor(frame x 1000 / rate); DurationFrames = End - Start;
DurationMillis = EndMillis - StartMillis; a shot ends on its last frame and the next starts
one frame later, while each technical cue after the first starts on the frame the previous
one ended on; SMPTE timecodes are HH:MM:SS:FF, drop-frame HH:MM:SS;FF at 29.97 and 59.94.
Segments are listed by the requested SegmentTypes' order, then by time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from rekognition_emulator.emulator.jobs import JobRecord
from rekognition_emulator.emulator.media.containers import AudioTrack
from rekognition_emulator.emulator.media.video import audio_metadata
from rekognition_emulator.handlers.analysis.numbers import f32
from rekognition_emulator.handlers.video.framework import Item, VideoAnalysis, VideoRun, register
from rekognition_emulator.models.shots import FrameMeasure, FrameMeter, find_cuts

MODEL_VERSION = "2.0"  # SelectedSegmentTypes' ModelVersion in AWS's current sample
DEFAULT_MIN_CONFIDENCE = 50.0
DEFAULT_MAX_PIXEL_THRESHOLD = 0.2
DEFAULT_MIN_COVERAGE = 99.0
BARS_LIKENESS = 6 / 7  # a frame of bars: at least 6 of 7 columns right


# -- timecodes ---------------------------------------------------------------------------------
def drop_frame(rate: Fraction) -> bool:
    """NTSC rates (30000/1001, 60000/1001) are counted in drop-frame timecode."""
    return rate.denominator == 1001 and rate.numerator in (30000, 60000)


def smpte(frames: int, rate: Fraction) -> str:
    """Frame count -> HH:MM:SS:FF (or HH:MM:SS;FF in drop-frame timecode)."""
    nominal = max(1, round(rate))
    if drop_frame(rate):
        dropped = 2 * nominal // 30  # 2 frame numbers a minute at 29.97, 4 at 59.94
        per_10min = nominal * 600 - dropped * 9
        per_min = nominal * 60 - dropped
        tens, rest = divmod(frames, per_10min)
        if rest > dropped:
            frames += dropped * 9 * tens + dropped * ((rest - dropped) // per_min)
        else:
            frames += dropped * 9 * tens
        sep = ";"
    else:
        sep = ":"
    ff = frames % nominal
    seconds = frames // nominal
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{sep}{ff:02d}"


@dataclass(frozen=True)
class Clock:
    rate: Fraction

    def millis(self, frame: int) -> int:
        return math.floor(Fraction(frame * 1000) / self.rate)

    def span(self, start: int, end: int) -> dict[str, Any]:
        """The members every segment has, for frames start..end."""
        start_ms, end_ms = self.millis(start), self.millis(end)
        return {
            "StartTimestampMillis": start_ms,
            "EndTimestampMillis": end_ms,
            "DurationMillis": end_ms - start_ms,
            "StartTimecodeSMPTE": smpte(start, self.rate),
            "EndTimecodeSMPTE": smpte(end, self.rate),
            "DurationSMPTE": smpte(end - start, self.rate),
            "StartFrameNumber": start,
            "EndFrameNumber": end,
            "DurationFrames": end - start,
        }


def margin_confidence(margin: float) -> float:
    return 100.0 - 50.0 / max(margin, 1.0) ** 2


# -- shots and cues ----------------------------------------------------------------------------
def shots(measures: list[FrameMeasure], clock: Clock, min_confidence: float) -> list[Item]:
    n = len(measures)
    cuts = find_cuts([m.change for m in measures])
    starts = [0] + [i for i, _ in cuts]
    margins = [math.inf] + [m for _, m in cuts] + [math.inf]
    out = []
    for k, start in enumerate(starts):
        end = (starts[k + 1] - 1) if k + 1 < len(starts) else n - 1
        confidence = margin_confidence(min(margins[k], margins[k + 1]))
        if confidence < min_confidence:
            continue
        out.append(
            {
                "Type": "SHOT",
                **clock.span(start, end),
                "ShotSegment": {"Index": len(out), "Confidence": f32(confidence)},
            }
        )
    return out


def cue_of_frames(
    measures: list[FrameMeasure],
    silent: list[bool],
    min_coverage: float,
) -> list[tuple[str, float]]:
    """(cue type, evidence 0..1) per frame."""
    out = []
    for m, quiet in zip(measures, silent, strict=True):
        if m.black >= min_coverage and quiet:
            span = 1.0 - min_coverage
            out.append(("BlackFrames", 1.0 if span <= 0 else (m.black - min_coverage) / span))
        elif m.bars >= BARS_LIKENESS:
            out.append(("ColorBars", m.bars))
        else:
            out.append(("Content", 1.0))
    return out


def technical_cues(
    per_frame: list[tuple[str, float]], clock: Clock, min_confidence: float
) -> list[Item]:
    runs: list[tuple[str, int, int, float]] = []  # type, first, last, mean evidence
    start = 0
    for i in range(1, len(per_frame) + 1):
        if i == len(per_frame) or per_frame[i][0] != per_frame[start][0]:
            evidence = sum(e for _, e in per_frame[start:i]) / (i - start)
            runs.append((per_frame[start][0], start, i - 1, evidence))
            start = i
    out: list[Item] = []
    previous_end: int | None = None
    for kind, first, last, evidence in runs:
        confidence = 100.0 if kind == "Content" else 50.0 + 50.0 * evidence
        # AWS's sample: a cue that follows another starts on the frame the other ended on.
        begin = previous_end if previous_end is not None else first
        previous_end = last
        if confidence < min_confidence:
            continue
        out.append(
            {
                "Type": "TECHNICAL_CUE",
                **clock.span(begin, last),
                "TechnicalCueSegment": {"Type": kind, "Confidence": f32(confidence)},
            }
        )
    return out


def silence(tracks: list[AudioTrack], starts_ms: list[float], frame_ms: float) -> list[bool]:
    """Per frame: True unless some audio track has sound during it (unknown: silent)."""
    out = []
    for t in starts_ms:
        quiet = True
        for track in tracks:
            if track.silent(t / 1000.0, (t + frame_ms) / 1000.0) is False:
                quiet = False
                break
        out.append(quiet)
    return out


class SegmentDetection(VideoAnalysis):
    name = "SegmentDetection"
    items = "Segments"

    def analyse(self, run: VideoRun) -> None:
        filters = run.params.get("Filters") or {}
        cue_filter = filters.get("TechnicalCueFilter") or {}
        black = cue_filter.get("BlackFrame") or {}
        threshold = black.get("MaxPixelThreshold")
        coverage = black.get("MinCoveragePercentage")
        threshold = DEFAULT_MAX_PIXEL_THRESHOLD if threshold is None else float(threshold)
        coverage = DEFAULT_MIN_COVERAGE if coverage is None else float(coverage)
        meter = FrameMeter(threshold * 255.0)
        measures: list[FrameMeasure] = []
        times: list[float] = []
        for frame in run.frames(every=True):
            measures.append(meter.measure(frame.bgr))
            times.append(frame.pts_ms)
        if not measures:
            return
        info = run.video.info
        rate = info.frame_rate or Fraction(round(run.video.metadata.frame_rate * 1000), 1000)
        clock = Clock(Fraction(rate))
        found: dict[str, list[Item]] = {}
        for kind in dict.fromkeys(run.params.get("SegmentTypes") or []):
            if kind == "SHOT":
                shot_conf = (filters.get("ShotFilter") or {}).get("MinSegmentConfidence")
                found[kind] = shots(
                    measures, clock, DEFAULT_MIN_CONFIDENCE if shot_conf is None else shot_conf
                )
            elif kind == "TECHNICAL_CUE":
                cue_conf = cue_filter.get("MinSegmentConfidence")
                quiet = silence(run.video.audio, times, run.video.frame_duration_ms)
                found[kind] = technical_cues(
                    cue_of_frames(measures, quiet, coverage / 100.0),
                    clock,
                    DEFAULT_MIN_CONFIDENCE if cue_conf is None else cue_conf,
                )
        for items in found.values():
            run.store(items)
        run.result["AudioMetadata"] = [audio_metadata(t) for t in run.video.audio]

    def video_metadata(self, job: JobRecord) -> Any:
        metadata = super().video_metadata(job)
        return None if metadata is None else [metadata]

    def extras(self, job: JobRecord, request: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "SelectedSegmentTypes": [
                {"Type": kind, "ModelVersion": MODEL_VERSION}
                for kind in dict.fromkeys(job.params.get("SegmentTypes") or [])
            ]
        }
        if job.result is not None:
            out["AudioMetadata"] = job.result.get("AudioMetadata") or []
        return out

    def stored_order(self, request: dict[str, Any]) -> bool:
        return True  # stored by requested type, then time; GetSegmentDetection has no SortBy


register(SegmentDetection())
