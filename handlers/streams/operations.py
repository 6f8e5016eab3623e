"""CreateStreamProcessor, DescribeStreamProcessor, ListStreamProcessors, StartStreamProcessor,
StopStreamProcessor, UpdateStreamProcessor, DeleteStreamProcessor.

Which operation is legal in which status (anything else is ResourceInUseException):

    Start    STOPPED, FAILED          -> STARTING (a new SessionId; session.py takes it on)
    Stop     STARTING, RUNNING        -> STOPPING -> STOPPED when the session has wound down
    Update   STOPPED, FAILED          -> UPDATING -> STOPPED (label detection processors only)
    Delete   STOPPED, FAILED          -> gone (the name is free again)
    Create   a new name               -> STOPPED; the same name and settings again is the same
                                         processor ("Name is idempotent"); other settings
                                         under a taken name: ResourceInUseException; so
                                         is a video stream that feeds another processor,
                                         or a data stream that takes another's records
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rekognition_emulator.emulator.aws import arns
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import AppState, RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store.stream_processors import (
    StreamProcessor,
    StreamProcessors,
    stream_processors,
)
from rekognition_emulator.handlers._ids import new_session_id
from rekognition_emulator.handlers.streams import settings as rules
from rekognition_emulator.handlers.streams.session import (
    ACTIVE,
    FAILED,
    RUNNING,
    STARTING,
    STOPPED,
    STOPPING,
    UPDATING,
    settle_orphans,
    start_session,
    stop_session,
)

DEFAULT_MAX_RESULTS = 1000  # ListStreamProcessors: "The default is 1000."
DESCRIBED = (
    "Input",
    "Output",
    "RoleArn",
    "Settings",
    "NotificationChannel",
    "KmsKeyId",
    "RegionsOfInterest",
    "DataSharingPreference",
)


def processors(state: AppState) -> StreamProcessors:
    """The store, after processors a crash left mid-session have been settled (once)."""
    state.singleton("stream-processors-settled", lambda: settle_orphans(state) + 1)
    return stream_processors(state)


def not_available(action: str, processor: StreamProcessor) -> errors.ResourceInUseException:
    # AWS's own words for a Stop in the wrong status, with the status it is in.
    return errors.ResourceInUseException(
        f"Stream Processor not available for {action}: {processor.name} is {processor.status}."
    )


def describe(processor: StreamProcessor) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": processor.name,
        "StreamProcessorArn": processor.arn,
        "Status": processor.status,
        "CreationTimestamp": processor.created_at,
        "LastUpdateTimestamp": processor.updated_at,
    }
    if processor.status_message:
        out["StatusMessage"] = processor.status_message
    out.update({k: processor.settings[k] for k in DESCRIBED if k in processor.settings})
    return out


@operation("CreateStreamProcessor")
def create_stream_processor(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    kind, stored = rules.create_settings(params)
    arn = arns.stream_processor(ctx.region, ctx.account, params["Name"])
    processor, _ = processors(ctx.state).create(
        ctx.account, ctx.region, params["Name"], arn, kind, stored, params.get("Tags")
    )
    return {"StreamProcessorArn": processor.arn}


@operation("DescribeStreamProcessor")
def describe_stream_processor(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return describe(processors(ctx.state).get(ctx.account, ctx.region, params["Name"]))


@operation("ListStreamProcessors")
def list_stream_processors(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    limit = min(params.get("MaxResults") or DEFAULT_MAX_RESULTS, DEFAULT_MAX_RESULTS)
    found, token = processors(ctx.state).list(
        ctx.account, ctx.region, params.get("NextToken"), limit
    )
    out: dict[str, Any] = {
        "StreamProcessors": [{"Name": p.name, "Status": p.status} for p in found]
    }
    if token:
        out["NextToken"] = token
    return out


@operation("StartStreamProcessor")
def start_stream_processor(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = processors(ctx.state)
    session_id = new_session_id()

    def decide(p: StreamProcessor) -> Mapping[str, Any]:
        session = rules.session_request(p.kind, params)
        if p.status not in (STOPPED, FAILED):
            raise not_available("starting", p)
        return {
            "status": STARTING,
            "status_message": None,
            "session_id": session_id,
            "session": session,
        }

    processor = store.change(ctx.account, ctx.region, params["Name"], decide)
    start_session(ctx.state, processor)
    return {"SessionId": session_id}


@operation("StopStreamProcessor")
def stop_stream_processor(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    def decide(p: StreamProcessor) -> Mapping[str, Any]:
        if p.status not in (STARTING, RUNNING):
            raise not_available("stopping", p)
        return {"status": STOPPING}

    processor = processors(ctx.state).change(ctx.account, ctx.region, params["Name"], decide)
    stop_session(ctx.state, processor)
    return {}


@operation("UpdateStreamProcessor")
def update_stream_processor(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = processors(ctx.state)

    def begin(p: StreamProcessor) -> Mapping[str, Any]:
        if p.kind != rules.CONNECTED_HOME:
            rules.updated_settings(p.kind, p.settings, params)  # raises: the kind's error
        if p.status not in (STOPPED, FAILED):
            raise not_available("updating", p)
        return {"status": UPDATING, "settings": rules.updated_settings(p.kind, p.settings, params)}

    store.change(ctx.account, ctx.region, params["Name"], begin)

    def done(p: StreamProcessor) -> Mapping[str, Any] | None:
        return {"status": STOPPED, "status_message": None} if p.status == UPDATING else None

    store.change(ctx.account, ctx.region, params["Name"], done)
    return {}


@operation("DeleteStreamProcessor")
def delete_stream_processor(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    def check(p: StreamProcessor) -> None:
        if p.status in ACTIVE or p.status == UPDATING:
            raise not_available("deleting", p)

    processors(ctx.state).delete(ctx.account, ctx.region, params["Name"], check)
    return {}
