"""The Rekognition Video framework: one `VideoAnalysis` per Start*/Get* pair.

A kind is a subclass registered once; `register` makes its two operations and its job kind:

    class FaceDetection(VideoAnalysis):
        name = "FaceDetection"        # StartFaceDetection / GetFaceDetection
        items = "Faces"               # the Get* member that lists the results

        def analyse(self, run: VideoRun) -> None:
            for frame in run.frames():                   # sampled, progress and stop handled
                run.store({"Timestamp": frame.timestamp, "Face": f} for f in faces(frame.rgb))

    register(FaceDetection())

What the framework does for every kind:
- Start*: the S3 object must exist (InvalidS3ObjectException) and be at most 10 GB
  (VideoTooLargeException), then `check_start` (the kind's own checks, e.g. the collection
  of StartFaceSearch), then the job is submitted: ClientRequestToken idempotency, the open-job
  limit, the NotificationChannel and its completion message are the job engine's.
- the job: the video is read from S3 into a temporary file and opened (an unreadable or
  unsupported file ends the job FAILED with a StatusMessage), `analyse` runs, and the
  VideoMetadata (plus what the kind puts in `run.result`) becomes the job's result document.
  Items are stored once, raw, in the order they were found.
- Get*: JobStatus, StatusMessage, VideoMetadata on every page, the page of items arranged by
  `arrange` (SortBy, AggregateBy) and the NextToken (absent on the last page), the kind's
  `extras` (model versions ...), and the echo of JobId, Video and JobTag. MaxResults defaults
  to 1000 and larger values give 1000.

Item keys that start with "_" are the kind's own (e.g. a sort key) and never leave Get* (such a
kind's `stored_order` is False, so its items always pass through `arrange`).
Sampling: `sample_ms` is the kind's default interval; `Config.video_sample_ms` overrides it
per analysis name; `run.frames(every=True)` reads every frame instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.aws import s3
from rekognition_emulator.emulator.jobs import FAILED, JobContext, JobFailed, engine, job_kind
from rekognition_emulator.emulator.media import video as media
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.registry import operation

if TYPE_CHECKING:
    from rekognition_emulator.emulator.jobs import JobRecord
    from rekognition_emulator.emulator.server.context import RequestContext

log = logging.getLogger(__name__)

DEFAULT_MAX_RESULTS = 1000
MAX_RESULTS = 1000
DEFAULT_SAMPLE_MS = 500.0  # about 2 frames a second, as AWS's timestamps show

Item = dict[str, Any]


def by_timestamp(item: Item) -> Any:
    return item["Timestamp"]


@dataclass
class VideoRun:
    """One run of a video job, as a kind's `analyse` sees it."""

    job: JobContext
    video: media.Video
    interval_ms: float
    # Timestamps of the frames `frames()` gave (what SEGMENTS aggregation counts runs on).
    sampled: list[int] = field(default_factory=list)
    # Members the kind adds to the job's result document (kept with VideoMetadata).
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        """The Start* request's parameters, as stored with the job."""
        return self.job.params

    def frames(self, *, every: bool = False) -> Iterator[media.Frame]:
        """The frames to analyse, sampled at `interval_ms` (or every frame), in time order.
        Reports progress; stops early when the job is asked to stop."""
        duration = max(1, self.video.metadata.duration_ms)
        source = self.video.frames() if every else self.video.sample(self.interval_ms)
        for frame in source:
            if self.job.stopping:
                return
            self.sampled.append(frame.timestamp)
            yield frame
            self.job.progress(frame.pts_ms / duration)

    def store(self, items: Iterable[Item]) -> None:
        self.job.store_results(items)


class VideoAnalysis:
    """One Start*/Get* pair of Rekognition Video. Subclasses set the names and `analyse`."""

    name = ""  # "LabelDetection": StartLabelDetection / GetLabelDetection
    items = ""  # "Labels": the Get* member listing the results
    sample_ms: float = DEFAULT_SAMPLE_MS
    # Keep the timestamps of the frames looked at in the result document ("Sampled"): what
    # AggregateBy SEGMENTS needs to tell consecutive frames.
    keeps_sampled = False
    # SortBy value -> key of the items (the Get* request's SortBy enum); TIMESTAMP default.
    sort_keys: dict[str, Callable[[Item], Any]] = {"TIMESTAMP": by_timestamp}
    default_sort = "TIMESTAMP"

    @property
    def start_operation(self) -> str:
        return f"Start{self.name}"

    @property
    def get_operation(self) -> str:
        return f"Get{self.name}"

    # -- what a kind defines ------------------------------------------------------------------
    def check_start(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        """Checks of the Start* request beyond the common ones (raise an AWS error)."""

    def analyse(self, run: VideoRun) -> None:
        raise NotImplementedError

    def presentation(self, request: dict[str, Any]) -> tuple[str, ...]:
        """What, in the Get* request, changes the arranged list (a NextToken is bound to it)."""
        return (request.get("SortBy") or self.default_sort,)

    def stored_order(self, request: dict[str, Any]) -> bool:
        """True when the Get* lists the items as they were stored (paged in SQL); a kind
        whose items carry keys of its own ("_...") must say False."""
        return (request.get("SortBy") or self.default_sort) == "TIMESTAMP"

    def arrange(self, items: list[Item], request: dict[str, Any], job: JobRecord) -> list[Item]:
        """The stored items as the Get* request presents them (default: a stable sort by
        SortBy)."""
        return sorted(items, key=self.sort_keys[request.get("SortBy") or self.default_sort])

    def extras(self, job: JobRecord, request: dict[str, Any]) -> dict[str, Any]:
        """Members of every Get* answer beyond the common ones (model versions ...)."""
        return {}

    def video_metadata(self, job: JobRecord) -> Any:
        return (job.result or {}).get("VideoMetadata")

    # -- the operations -------------------------------------------------------------------------
    def start(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        s3_object = (params.get("Video") or {}).get("S3Object")
        if not s3_object:
            raise errors.InvalidParameterException(
                "Request has invalid parameters: Video must name an S3Object."
            )
        size = s3.head_object(
            ctx.state,
            ctx.account,
            s3_object.get("Bucket", ""),
            s3_object.get("Name", ""),
            s3_object.get("Version"),
        )
        if size > media.MAX_BYTES:
            raise errors.VideoTooLargeException(
                f"Video size in bytes: {size} is more than the maximum limit of: "
                f"{media.MAX_BYTES} bytes."
            )
        self.check_start(ctx, params)
        job = engine(ctx.state).submit(
            self.start_operation,
            account=ctx.account,
            region=ctx.region,
            params=params,
            client_token=params.get("ClientRequestToken"),
            notification=params.get("NotificationChannel"),
        )
        return {"JobId": job.job_id}

    def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        jobs = engine(ctx.state)
        job = jobs.get(ctx.account, ctx.region, params["JobId"])
        if job.kind != self.start_operation:
            raise errors.ResourceNotFoundException(
                f"The job id: {job.job_id} is not a {self.start_operation} job."
            )
        status = job.status if job.status in ("IN_PROGRESS", "SUCCEEDED") else FAILED
        out: dict[str, Any] = {"JobStatus": status}
        if status == FAILED:
            out["StatusMessage"] = job.status_message or "The job was stopped before it finished."
        metadata = self.video_metadata(job)
        if job.finished and metadata is not None:
            out["VideoMetadata"] = metadata
        max_results = min(int(params.get("MaxResults") or DEFAULT_MAX_RESULTS), MAX_RESULTS)
        purpose = "|".join((self.get_operation, *self.presentation(params)))

        def arrange(items: list[Item]) -> list[Item]:
            return [_public(i) for i in self.arrange(items, params, job)]

        items, token = jobs.results(
            job,
            purpose=purpose,
            max_results=max_results,
            next_token=params.get("NextToken"),
            arrange=None if self.stored_order(params) else arrange,
        )
        if job.status == "SUCCEEDED":
            out[self.items] = items
        if token:
            out["NextToken"] = token
        if job.finished:
            out.update(self.extras(job, params))
        out["JobId"] = job.job_id
        out["Video"] = job.params.get("Video")
        if job.params.get("JobTag"):
            out["JobTag"] = job.params["JobTag"]
        return out

    def run(self, job: JobContext) -> dict[str, Any]:
        state = job.state
        if state is None:
            raise JobFailed("This emulator cannot read videos without a server state.")
        s3_object = job.params["Video"]["S3Object"]
        folder = state.config.data_dir / "tmp"
        try:
            with media.fetched(state, job.account, s3_object, folder) as path:
                try:
                    video = media.open_video(path)
                except media.UnsupportedVideo as exc:
                    raise JobFailed(str(exc)) from None
                with video:
                    interval = state.config.video_sample_ms.get(self.name, self.sample_ms)
                    run = VideoRun(job, video, interval)
                    self.analyse(run)
                    if not run.sampled and not job.stopping:
                        raise JobFailed(
                            f"{media.UNSUPPORTED} (no frame of the video could be decoded)",
                            {"VideoMetadata": video.metadata.aws()},
                        )
                    result = {"VideoMetadata": video.metadata.aws(), **run.result}
                    if self.keeps_sampled:
                        result["Sampled"] = run.sampled
                    return result
        except errors.InvalidS3ObjectException as exc:
            # Start saw the object; it went away before the job read it.
            raise JobFailed(exc.message) from None


def _public(item: Item) -> Item:
    """An item without the kind's own keys ("_..."), at the top level."""
    if not any(k.startswith("_") for k in item):
        return item
    return {k: v for k, v in item.items() if not k.startswith("_")}


_REGISTERED: dict[str, VideoAnalysis] = {}


def register(kind: VideoAnalysis) -> VideoAnalysis:
    """Serve `kind`: its Start* and Get* operations and its job kind (named after Start*)."""
    if kind.name in _REGISTERED:
        if _REGISTERED[kind.name] is kind:
            return kind
        raise ValueError(f"video analysis {kind.name} registered twice")
    _REGISTERED[kind.name] = kind

    def start(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return kind.start(ctx, params)

    def get(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return kind.get(ctx, params)

    def run(job: JobContext) -> dict[str, Any]:
        return kind.run(job)

    start.__name__ = f"start_{kind.name}"
    get.__name__ = f"get_{kind.name}"
    operation(kind.start_operation)(start)
    operation(kind.get_operation)(get)
    job_kind(kind.start_operation)(run)
    return kind


def registered() -> dict[str, VideoAnalysis]:
    """The registered analyses by name (LabelDetection ...)."""
    return dict(_REGISTERED)
