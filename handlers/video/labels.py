"""StartLabelDetection / GetLabelDetection: DetectLabels (GENERAL_LABELS) on the sampled
frames, with its MinConfidence (default 50 in video) and Settings.GeneralLabels filters.

Get: SortBy TIMESTAMP (default; each frame's labels most confident first) or NAME (labels
alphabetically, each label's detections most confident first); AggregateBy TIMESTAMPS
(default: one item per label per frame, with Instances) or SEGMENTS (one item per
continuous run of a label, no Instances; handlers/video/runs.py).
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.jobs import JobRecord
from rekognition_emulator.handlers.analysis import labels
from rekognition_emulator.handlers.video import runs
from rekognition_emulator.handlers.video.framework import (
    Item,
    VideoAnalysis,
    VideoRun,
    by_timestamp,
    register,
)

DEFAULT_MIN_CONFIDENCE = 50.0  # StartLabelDetection's documented default


def _name(item: Item) -> str:
    return item["Label"]["Name"]


def by_name(item: Item) -> Any:
    return (_name(item), -item["Label"]["Confidence"], item["Timestamp"])


class LabelDetection(VideoAnalysis):
    name = "LabelDetection"
    items = "Labels"
    sort_keys = {"TIMESTAMP": by_timestamp, "NAME": by_name}
    keeps_sampled = True

    def analyse(self, run: VideoRun) -> None:
        min_conf = run.params.get("MinConfidence")
        settings = run.params.get("Settings") or {}
        for frame in run.frames():
            found = labels.detect_labels(
                frame.rgb,
                min_confidence=DEFAULT_MIN_CONFIDENCE if min_conf is None else float(min_conf),
                general_labels=settings.get("GeneralLabels"),
            )
            run.store({"Timestamp": frame.timestamp, "Label": label} for label in found["Labels"])

    def presentation(self, request: dict[str, Any]) -> tuple[str, ...]:
        return (request.get("SortBy") or "TIMESTAMP", request.get("AggregateBy") or "TIMESTAMPS")

    def stored_order(self, request: dict[str, Any]) -> bool:
        return self.presentation(request) == ("TIMESTAMP", "TIMESTAMPS")

    def arrange(self, items: list[Item], request: dict[str, Any], job: JobRecord) -> list[Item]:
        sort, aggregate = self.presentation(request)
        if aggregate == "SEGMENTS":
            items = [_segment(run) for run in runs.runs(items, runs.sampled(job), _name)]
        return sorted(items, key=self.sort_keys[sort])

    def extras(self, job: JobRecord, request: dict[str, Any]) -> dict[str, Any]:
        sort, aggregate = self.presentation(request)
        return {
            "LabelModelVersion": labels.LABEL_MODEL_VERSION,
            "GetRequestMetadata": {"SortBy": sort, "AggregateBy": aggregate},
        }


def _segment(run: list[Item]) -> Item:
    best = max(run, key=lambda i: i["Label"]["Confidence"])["Label"]
    label = {k: v for k, v in best.items() if k != "Instances"}
    return {**runs.span(run), "Label": label}


register(LabelDetection())
