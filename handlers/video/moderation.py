"""StartContentModeration / GetContentModeration: DetectModerationLabels (taxonomy 7.0) on
the sampled frames, with its MinConfidence (default 50).

Each detected label of a frame is one item, carrying the frame's ContentTypes. Get: SortBy
TIMESTAMP or NAME, AggregateBy TIMESTAMPS or SEGMENTS, as GetLabelDetection (a run's
ContentTypes: each type at its highest in the run).
"""

from __future__ import annotations

from rekognition_emulator.handlers.analysis import moderation
from rekognition_emulator.handlers.analysis.numbers import f32
from rekognition_emulator.handlers.video import runs
from rekognition_emulator.handlers.video.framework import Item, VideoRun, register


class ContentModeration(runs.LabelRuns):
    name = "ContentModeration"
    items = "ModerationLabels"
    member = "ModerationLabel"
    version = ("ModerationModelVersion", moderation.MODERATION_MODEL_VERSION)

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

    def segment(self, run: list[Item]) -> Item:
        best = max(run, key=lambda i: i["ModerationLabel"]["Confidence"])
        types: dict[str, float] = {}
        for item in run:
            for t in item.get("ContentTypes") or []:
                types[t["Name"]] = max(types.get(t["Name"], 0.0), t["Confidence"])
        ranked = sorted(types.items(), key=lambda kv: -kv[1])
        return {
            **runs.span(run),
            "ModerationLabel": best["ModerationLabel"],
            "ContentTypes": [{"Confidence": f32(c), "Name": n} for n, c in ranked],
        }


register(ContentModeration())
