"""StartLabelDetection / GetLabelDetection: DetectLabels (GENERAL_LABELS) on the sampled
frames, with its MinConfidence (default 50 in video) and Settings.GeneralLabels filters.

Get: SortBy TIMESTAMP (default; each frame's labels most confident first) or NAME (labels
alphabetically, each label's detections most confident first); AggregateBy TIMESTAMPS
(default: one item per label per frame, with Instances) or SEGMENTS (one item per
continuous run of a label, no Instances; handlers/video/runs.py).
"""

from __future__ import annotations

from rekognition_emulator.handlers.analysis import labels
from rekognition_emulator.handlers.video import runs
from rekognition_emulator.handlers.video.framework import Item, VideoRun, register

DEFAULT_MIN_CONFIDENCE = 50.0  # StartLabelDetection's documented default


class LabelDetection(runs.LabelRuns):
    name = "LabelDetection"
    items = "Labels"
    member = "Label"
    version = ("LabelModelVersion", labels.LABEL_MODEL_VERSION)

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

    def segment(self, run: list[Item]) -> Item:
        best = max(run, key=lambda i: i["Label"]["Confidence"])["Label"]
        return {**runs.span(run), "Label": {k: v for k, v in best.items() if k != "Instances"}}


register(LabelDetection())
