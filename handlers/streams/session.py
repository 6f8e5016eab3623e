"""A stream processing session: what runs between StartStreamProcessor and the processor's
return to STOPPED (or FAILED).

It is a job of the job engine (kind "StartStreamProcessor", long-running: a thread of its own
until it ends; outside the open-job limit; job id = the SessionId), so /_emulator/jobs shows it
and a server that stops with a session on runs it again at its next start.

Statuses, as AWS's stream processors go through them:
- face search: STARTING while the input stream and the collection are checked, RUNNING once
  frames flow (it stays RUNNING at the end of a video that does not loop, as a live stream
  with no more media does), STOPPING after StopStreamProcessor, then STOPPED;
- label detection: STARTING for the whole session (AWS's connected-home processors never show
  RUNNING), then STOPPED when MaxDurationInSeconds of video is processed, the video ends or
  StopStreamProcessor is called;
- FAILED, with a StatusMessage, when the input stream plays nothing (no mapping: the
  message Kinesis Video gives for a stream it does not have), the video cannot be read, the
  collection, output stream, bucket or topic does not exist.
The session writes the processor's final status itself before its job ends; a session cut
short by the server's shutdown leaves the status as it is and runs again after the restart
(from its start selector: records of the replayed part are written again).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rekognition_emulator.emulator.jobs import JobContext, JobFailed, engine, job_kind
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.stream_processors import (
    StreamProcessor,
    StreamProcessors,
    stream_processors,
)
from rekognition_emulator.handlers._ids import new_session_id
from rekognition_emulator.handlers.streams.connected_home import ConnectedHome
from rekognition_emulator.handlers.streams.face_search import FaceSearch, SessionFailed
from rekognition_emulator.handlers.streams.playback import Playback
from rekognition_emulator.handlers.streams.settings import FACE_SEARCH
from rekognition_emulator.handlers.streams.sources import StreamUnavailable, open_source

log = logging.getLogger("rekognition_emulator.streams")

RUN_KIND = "StartStreamProcessor"
STOPPED, STARTING, RUNNING = "STOPPED", "STARTING", "RUNNING"
FAILED, STOPPING, UPDATING = "FAILED", "STOPPING", "UPDATING"
ACTIVE = frozenset({STARTING, RUNNING, STOPPING})
IDLE_POLL_SECONDS = 0.5


def no_media_message(stream_arn: str) -> str:
    # Kinesis Video's own answer for a stream it does not have, naming the stream.
    return f"The requested stream is not found or not active: {stream_arn}"


def _ours(processor: StreamProcessor | None, session_id: str) -> bool:
    return processor is not None and processor.session_id == session_id


def end_session(
    store: StreamProcessors, pk: int, session_id: str, status: str, message: str | None = None
) -> StreamProcessor | None:
    """Put the processor of this session in its final status (if it is still this session's)."""

    def decide(p: StreamProcessor) -> Mapping[str, Any] | None:
        if p.session_id != session_id or p.status not in ACTIVE:
            return None
        return {"status": status, "status_message": message}

    return store.change_pk(pk, decide)


@job_kind(RUN_KIND, limited=False, long_running=True, new_id=new_session_id)
def run_session(job: JobContext) -> dict[str, Any]:
    assert job.state is not None
    state = job.state
    store = stream_processors(state)
    pk, session_id = int(job.params["Processor"]), str(job.params["SessionId"])
    processor = store.by_pk(pk)
    if not _ours(processor, session_id) or processor.status not in ACTIVE:  # type: ignore[union-attr]
        return {"SessionId": session_id, "Outcome": "the processor moved on"}
    assert processor is not None
    worker: FaceSearch | ConnectedHome | None = None
    try:
        worker = _worker(state, store, processor, session_id)
        input_arn = processor.settings["Input"]["KinesisVideoStream"]["Arn"]
        mapping = store.source(input_arn)
        if mapping is None:
            raise SessionFailed(no_media_message(input_arn))
        # Opened once now, so that a stream that cannot be read fails the session at once.
        open_source(state, input_arn, mapping).close()
        playback = Playback(
            lambda: open_source(state, input_arn, mapping),
            mapping,
            speed=state.config.stream_speed,
            analysis_fps=state.config.stream_analysis_fps,
            start_selector=(processor.session or {}).get("StartSelector"),
            wait=job.wait,
        )
        if isinstance(worker, FaceSearch):
            worker.check()
            _set_running(store, pk, session_id)
        completed = _play(job, playback, worker)
        if isinstance(worker, ConnectedHome):
            if not completed and not _stop_asked(store, pk, session_id):
                return {"SessionId": session_id, "Outcome": "interrupted", **worker.summary()}
            worker.finish()
    except (SessionFailed, StreamUnavailable) as exc:
        end_session(store, pk, session_id, FAILED, str(exc))
        log.info("stream processor %s failed: %s", processor.name, exc)
        raise JobFailed(str(exc), {"SessionId": session_id}) from None
    except Exception as exc:
        log.exception("stream processor %s failed unexpectedly", processor.name)
        message = (
            f"The stream processor failed with an unexpected error ({type(exc).__name__}); "
            "the emulator's log has the details."
        )
        end_session(store, pk, session_id, FAILED, message)
        raise JobFailed(message, {"SessionId": session_id}) from None
    summary = worker.summary() if worker is not None else {}
    if isinstance(worker, FaceSearch) and not _stop_asked(store, pk, session_id):
        # Stopped by the server's shutdown or an admin reset, not by StopStreamProcessor.
        return {"SessionId": session_id, "Outcome": "interrupted", **summary}
    end_session(store, pk, session_id, STOPPED)
    return {"SessionId": session_id, "Outcome": "STOPPED", **summary}


def _worker(
    state: Any, store: StreamProcessors, processor: StreamProcessor, session_id: str
) -> FaceSearch | ConnectedHome:
    if processor.kind == FACE_SEARCH:
        return FaceSearch(state, processor, session_id)
    tags = store.list_tags(processor.account, processor.region, processor.name)
    return ConnectedHome(state, processor, session_id, processor.session or {}, tags)


def _set_running(store: StreamProcessors, pk: int, session_id: str) -> None:
    def decide(p: StreamProcessor) -> Mapping[str, Any] | None:
        if p.session_id == session_id and p.status == STARTING:
            return {"status": RUNNING}
        return None

    store.change_pk(pk, decide)


def _stop_asked(store: StreamProcessors, pk: int, session_id: str) -> bool:
    processor = store.by_pk(pk)
    return _ours(processor, session_id) and processor.status == STOPPING  # type: ignore[union-attr]


def _play(job: JobContext, playback: Playback, worker: FaceSearch | ConnectedHome) -> bool:
    """Feed the frames to the worker; True when the session came to its own end (a label
    detection session's duration, or the end of the video), False when it was stopped."""
    for frame in playback.frames():
        if isinstance(worker, ConnectedHome) and worker.done(frame):
            return True
        worker.frame(frame)
        job.progress(0.0)
        if job.stopping:
            return False
    if job.stopping:
        return False
    if isinstance(worker, ConnectedHome):
        return True
    # A face search processor on a video that ended: a live stream with no more media, still
    # RUNNING until it is stopped.
    while not job.wait(IDLE_POLL_SECONDS):
        pass
    return False


# -- what the operations call ---------------------------------------------------------------
def start_session(state: Any, processor: StreamProcessor) -> None:
    """Submit the session's job (the processor row already says STARTING with its id)."""
    assert processor.session_id is not None
    try:
        engine(state).submit(
            RUN_KIND,
            account=processor.account,
            region=processor.region,
            params={"Processor": processor.pk, "SessionId": processor.session_id},
            job_id=processor.session_id,
        )
    except Exception as exc:
        end_session(
            stream_processors(state),
            processor.pk,
            processor.session_id,
            FAILED,
            f"The stream processing session could not be started: {exc}",
        )
        raise


def stop_session(state: Any, processor: StreamProcessor) -> None:
    """Ask the session's job to stop (the processor row already says STOPPING). A job that
    had not begun ends at once: then the processor is STOPPED here."""
    assert processor.session_id is not None
    try:
        job = engine(state).stop(processor.account, processor.region, processor.session_id)
        finished = job.finished
    except errors.ResourceNotFoundException:
        finished = True
    if finished:
        end_session(stream_processors(state), processor.pk, processor.session_id, STOPPED)


def settle_orphans(state: Any) -> int:
    """Processors that say a session is on while no job runs it (a crash between a Start's
    two commits, or jobs purged): put them where their session would have left them."""
    store = stream_processors(state)
    jobs = engine(state)
    settled = 0
    for processor in store.active():
        try:
            alive = not jobs.get(
                processor.account, processor.region, processor.session_id or ""
            ).finished
        except errors.ResourceNotFoundException:
            alive = False
        if alive:
            continue
        if processor.status == STOPPING:
            end_session(store, processor.pk, processor.session_id or "", STOPPED)
        else:
            end_session(
                store,
                processor.pk,
                processor.session_id or "",
                FAILED,
                "The stream processing session ended unexpectedly (the emulator stopped "
                "before it began).",
            )
        settled += 1
    return settled
