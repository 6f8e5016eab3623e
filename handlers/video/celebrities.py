"""StartCelebrityRecognition / GetCelebrityRecognition: the celebrity gallery (the same one
RecognizeCelebrities uses, handlers/celebrities.py) matched on the sampled frames.

Celebrities only, never unknown faces (as AWS lists them): each sighting is a CelebrityDetail
with the match's Confidence, the body's BoundingBox and the Face. The gallery is read when
the job runs, so a celebrity seeded between Start and the run is found. Get: SortBy
TIMESTAMP (default) or ID (by celebrity, then time).
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.handlers.analysis import celebrities
from rekognition_emulator.handlers.celebrities import gallery
from rekognition_emulator.handlers.video.framework import Item, VideoAnalysis, VideoRun, register


def by_id(item: Item) -> Any:
    return (item["Celebrity"]["Id"], item["Timestamp"])


class CelebrityRecognition(VideoAnalysis):
    name = "CelebrityRecognition"
    items = "Celebrities"
    sort_keys = {
        "TIMESTAMP": lambda i: (i["Timestamp"], i["Celebrity"]["Id"]),
        "ID": by_id,
    }

    def analyse(self, run: VideoRun) -> None:
        assert run.job.state is not None
        matcher = gallery(run.job.state).matcher()
        for frame in run.frames():
            found = celebrities.celebrity_details(frame.rgb, matcher)
            run.store({"Timestamp": frame.timestamp, "Celebrity": detail} for detail in found)


register(CelebrityRecognition())
