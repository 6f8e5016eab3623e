"""AggregateBy SEGMENTS: the continuous runs of a label over the frames a job looked at, and
the analyses whose Get* aggregates so (labels, moderation): `LabelRuns`.

A run is a label seen in consecutive sampled frames (frames the job analysed, not every
frame of the video). Its StartTimestampMillis is the first frame's time, EndTimestampMillis
the last frame's (so a label seen once has DurationMillis 0), Timestamp equals the start,
and its Confidence is the run's highest, as AWS documents for SEGMENTS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rekognition_emulator.handlers.video.framework import VideoAnalysis, by_timestamp

if TYPE_CHECKING:
    from rekognition_emulator.emulator.jobs import JobRecord

Item = dict[str, Any]


def runs(items: list[Item], sampled: list[int], key: Callable[[Item], str]) -> list[list[Item]]:
    """The items grouped per `key` into runs over consecutive sampled frames, each run in
    time order; runs in order of their start (then key)."""
    position = {t: i for i, t in enumerate(sampled)}
    by_key: dict[str, list[Item]] = {}
    for item in sorted(items, key=lambda i: i["Timestamp"]):
        by_key.setdefault(key(item), []).append(item)
    out: list[list[Item]] = []
    for group in by_key.values():
        current: list[Item] = []
        last = None
        for item in group:
            at = position.get(item["Timestamp"])
            if current and (at is None or last is None or at - last > 1):
                out.append(current)
                current = []
            if current and at == last:  # the same frame twice (cannot happen per label)
                continue
            current.append(item)
            last = at
        if current:
            out.append(current)
    out.sort(key=lambda run: (run[0]["Timestamp"], key(run[0])))
    return out


def span(run: list[Item]) -> dict[str, int]:
    start, end = run[0]["Timestamp"], run[-1]["Timestamp"]
    return {
        "Timestamp": start,
        "StartTimestampMillis": start,
        "EndTimestampMillis": end,
        "DurationMillis": end - start,
    }


def sampled(job: JobRecord) -> list[int]:
    """The timestamps of the frames the job looked at (kept by kinds with keeps_sampled)."""
    return list((job.result or {}).get("Sampled") or [])


class LabelRuns(VideoAnalysis):
    """An analysis whose items each name a label (`item[member]["Name"]`, with a Confidence)
    and whose Get* takes SortBy TIMESTAMP|NAME and AggregateBy TIMESTAMPS|SEGMENTS, and
    answers a model version and GetRequestMetadata."""

    member = ""  # "Label", "ModerationLabel"
    version: tuple[str, str] = ("", "")  # the Get* member naming the model, and its value
    keeps_sampled = True

    def __init__(self) -> None:
        self.sort_keys = {"TIMESTAMP": by_timestamp, "NAME": self.by_name}

    def label_name(self, item: Item) -> str:
        return item[self.member]["Name"]

    def by_name(self, item: Item) -> Any:
        """Labels alphabetically, each label's items most confident first."""
        return (self.label_name(item), -item[self.member]["Confidence"], item["Timestamp"])

    def segment(self, run: list[Item]) -> Item:
        """One run as one item (span(run) and the run's most confident label)."""
        raise NotImplementedError

    def presentation(self, request: dict[str, Any]) -> tuple[str, ...]:
        return (request.get("SortBy") or "TIMESTAMP", request.get("AggregateBy") or "TIMESTAMPS")

    def stored_order(self, request: dict[str, Any]) -> bool:
        return self.presentation(request) == ("TIMESTAMP", "TIMESTAMPS")

    def arrange(self, items: list[Item], request: dict[str, Any], job: JobRecord) -> list[Item]:
        sort, aggregate = self.presentation(request)
        if aggregate == "SEGMENTS":
            items = [self.segment(run) for run in runs(items, sampled(job), self.label_name)]
        return sorted(items, key=self.sort_keys[sort])

    def extras(self, job: JobRecord, request: dict[str, Any]) -> dict[str, Any]:
        sort, aggregate = self.presentation(request)
        member, version = self.version
        return {member: version, "GetRequestMetadata": {"SortBy": sort, "AggregateBy": aggregate}}
