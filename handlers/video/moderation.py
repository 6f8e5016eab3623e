"""StartContentModeration / GetContentModeration: DetectModerationLabels (taxonomy 7.0) on
the sampled frames, with its MinConfidence (default 50).

Each detected label of a frame is one item, carrying the frame's ContentTypes. Get: SortBy
TIMESTAMP or NAME, AggregateBy TIMESTAMPS or SEGMENTS, as GetLabelDetection.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.jobs import JobRecord
from rekognition_emulator.handlers.analysis import moderation
from rekognition_emulator.handlers.analysis.numbers import f32
from rekognition_emulator.handlers.video import runs
from rekognition_emulator.handlers.video.framework import (
    Item,
    VideoAnalysis,
    VideoRun,
    by_timestamp,
    register,
)


def _name(item: Item) -> str:
    return item["ModerationLabel"]["Name"]


def by_name(item: Item) -> Any:
    return (_name(item), -item["ModerationLabel"]["Confidence"], item["Timestamp"])


class ContentModeration(VideoAnalysis):
    name = "ContentModeration"
    items = "ModerationLabels"
    sort_keys = {"TIMESTAMP": by_timestamp, "NAME": by_name}
    keeps_sampled = True

    def analyse(self, run: VideoRun) -> None:
        min_conf = run.params.get("MinConfidence")
        min_conf = moderation.DEFAULT_MIN_CONFIDENCE if min_conf is None else float(min_conf)
        for frame in run.frames():
            found = moderation.detect_moderation_labels(frame.rgb, min_confidence=min_conf)
            run.store(
                {
                    "Timestamp": frame.timestamp,
                    "ModerationLabel": label,
                    "ContentTypes": found["ContentTypes"],
                }
                for label in found["ModerationLabels"]
            )

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
            "ModerationModelVersion": moderation.MODERATION_MODEL_VERSION,
            "GetRequestMetadata": {"SortBy": sort, "AggregateBy": aggregate},
        }


def _segment(run: list[Item]) -> Item:
    best = max(run, key=lambda i: i["ModerationLabel"]["Confidence"])
    types: dict[str, float] = {}
    for item in run:
        for t in item.get("ContentTypes") or []:
            types[t["Name"]] = max(types.get(t["Name"], 0.0), t["Confidence"])
    return {
        **runs.span(run),
        "ModerationLabel": best["ModerationLabel"],
        "ContentTypes": [
            {"Confidence": f32(c), "Name": n}
            for n, c in sorted(types.items(), key=lambda kv: -kv[1])
        ],
    }


register(ContentModeration())
