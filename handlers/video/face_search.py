"""StartFaceSearch / GetFaceSearch: the people of a video (tracked as in person tracking,
handlers/video/people.py) whose faces are seen, searched in a face collection.

Every tracked person with a face in a sampled frame is listed at that frame: Person (Index,
BoundingBox of the body when seen, Face with the DEFAULT attributes) and FaceMatches, the
collection's faces at or above FaceMatchThreshold (default 80), most similar first, on the
similarity scale SearchFacesByImage uses; a person who matches no one has FaceMatches [].
Start: the collection must exist (ResourceNotFoundException). Get: SortBy TIMESTAMP
(default) or INDEX.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.jobs import JobFailed
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.store import backend, warm
from rekognition_emulator.handlers import _face_search
from rekognition_emulator.handlers.video.framework import VideoAnalysis, VideoRun, register
from rekognition_emulator.handlers.video.people import People, embedding, person_detail
from rekognition_emulator.handlers.video.persons import TRACKING_SAMPLE_MS, by_index


class FaceSearch(VideoAnalysis):
    name = "FaceSearch"
    items = "Persons"
    sample_ms = TRACKING_SAMPLE_MS
    sort_keys = {"TIMESTAMP": lambda i: (i["Timestamp"], i["Person"]["Index"]), "INDEX": by_index}

    def check_start(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        backend(ctx).describe_collection(params["CollectionId"])

    def analyse(self, run: VideoRun) -> None:
        state = run.job.state
        assert state is not None
        store = warm(state).region(run.job.account, run.job.region)
        try:
            collection = store.describe_collection(run.params["CollectionId"])
        except errors.ResourceNotFoundException as exc:
            raise JobFailed(exc.message) from None  # deleted after the Start call
        threshold = run.params.get("FaceMatchThreshold")
        threshold = (
            _face_search.DEFAULT_FACE_MATCH_THRESHOLD if threshold is None else float(threshold)
        )
        people = People()
        matches: dict[int, list[dict[str, Any]]] = {}
        for frame in run.frames():
            for sighting in people.frame(frame):
                vector = embedding(sighting)
                if vector is not None:
                    matches[id(sighting)] = _face_search.face_matches(
                        store, collection, vector, None, threshold
                    )
        run.store(
            {
                "Timestamp": s.timestamp,
                "Person": person_detail(index, s),
                "FaceMatches": matches[id(s)],
                "_confidence": s.confidence,
            }
            for index, s in people.sightings()
            if s.face is not None
        )

    def stored_order(self, request: dict[str, Any]) -> bool:
        return False  # the items carry their _confidence


register(FaceSearch())
