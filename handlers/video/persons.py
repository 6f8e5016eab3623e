"""StartPersonTracking / GetPersonTracking: people tracked through the video
(handlers/video/people.py), each with one Index from 0.

Every person is listed at every sampled frame they are seen in: Index, the body's
BoundingBox (when the person detector saw it), and the Face with the DEFAULT attributes
(when a face was seen in the body, or alone). Get: SortBy TIMESTAMP (default) or INDEX (by
person, then most confident first).

AWS ended People Pathing on 2025-10-31; the operations remain in the service model and are
served here as the model describes them.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.handlers.video.framework import (
    Item,
    VideoAnalysis,
    VideoRun,
    register,
)
from rekognition_emulator.handlers.video.people import People, person_detail

# Tracking needs closer frames than the other analyses: at 5 frames a second a walking
# person moves less than their own width between frames.
TRACKING_SAMPLE_MS = 200.0


def by_index(item: Item) -> Any:
    return (item["Person"]["Index"], -item["_confidence"], item["Timestamp"])


class PersonTracking(VideoAnalysis):
    name = "PersonTracking"
    items = "Persons"
    sample_ms = TRACKING_SAMPLE_MS
    sort_keys = {"TIMESTAMP": lambda i: (i["Timestamp"], i["Person"]["Index"]), "INDEX": by_index}

    def analyse(self, run: VideoRun) -> None:
        people = People()
        for frame in run.frames():
            people.frame(frame)
        run.store(
            {
                "Timestamp": s.timestamp,
                "Person": person_detail(index, s),
                "_confidence": s.confidence,
            }
            for index, s in people.sightings()
        )

    def stored_order(self, request: dict[str, Any]) -> bool:
        return False  # the items carry their _confidence


register(PersonTracking())
