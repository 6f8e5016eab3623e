"""AggregateBy SEGMENTS: the continuous runs of a label over the frames a job looked at.

A run is a label seen in consecutive sampled frames (frames the job analysed, not every
frame of the video). Its StartTimestampMillis is the first frame's time, EndTimestampMillis
the last frame's (so a label seen once has DurationMillis 0), Timestamp equals the start,
and its Confidence is the run's highest, as AWS documents for SEGMENTS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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
