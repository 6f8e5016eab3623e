"""What a Kinesis video stream "plays": there is no Kinesis Video media here, so a test says
which video a stream ARN stands for, and a started stream processor reads that video as a live
stream.

    POST   /_emulator/streams   {"StreamArn": "arn:aws:kinesisvideo:...:stream/cam/1",
                                 "Video": {"S3Object": {"Bucket": "b", "Name": "k.mp4"}}
                                          | {"Path": "/abs/clip.mp4"},
                                 "Loop": false, "ProducerTimestamp": 1700000000000}
    GET    /_emulator/streams                     every mapping
    DELETE /_emulator/streams?StreamArn=<arn>     forget one

    rekognition-emulator streams map ARN (s3://bucket/key | PATH) [--loop] [--endpoint-url URL]
    rekognition-emulator streams list | unmap ARN

S3 objects are read from the S3 the emulator uses, in the stream ARN's account; a path is read
on the server's machine. `Loop` replays the video without end (a camera that stays on);
`ProducerTimestamp` (Unix milliseconds) is the producer time of the video's first frame
(default: the moment a session starts reading it, as for a camera streaming live).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rekognition_emulator.emulator.aws import arns
from rekognition_emulator.emulator.media.clip import Clip, ClipError, open_clip
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.registry import admin_route, cli_command
from rekognition_emulator.emulator.server.service_model import service_model
from rekognition_emulator.emulator.store.stream_processors import stream_processors

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

# The service model's KinesisVideoArn pattern.
STREAM_ARN = re.compile(service_model().shape_for("KinesisVideoArn").metadata["pattern"])


class SourceError(ValueError):
    """A mapping that cannot be made (the admin endpoint answers 400 with the message)."""


class StreamUnavailable(RuntimeError):
    """A processor's input stream cannot be read: the session FAILS with this message."""


def parse_mapping(body: Any) -> dict[str, Any]:
    """The mapping a POST body asks for, normalised; SourceError when it is not one."""
    if not isinstance(body, dict):
        raise SourceError("the body must be a JSON object")
    arn = body.get("StreamArn")
    if not isinstance(arn, str) or not STREAM_ARN.match(arn):
        raise SourceError(
            "StreamArn must be a Kinesis video stream ARN "
            "(arn:aws:kinesisvideo:<region>:<account>:stream/<name>/<creation time>)"
        )
    video = body.get("Video")
    if not isinstance(video, dict) or ("S3Object" in video) == ("Path" in video):
        raise SourceError('Video must be {"S3Object": {"Bucket", "Name"}} or {"Path": "..."}')
    mapping: dict[str, Any] = {"Loop": bool(body.get("Loop", False))}
    if "S3Object" in video:
        s3 = video["S3Object"]
        if not isinstance(s3, dict) or not s3.get("Bucket") or not s3.get("Name"):
            raise SourceError("Video.S3Object needs Bucket and Name")
        mapping["Video"] = {
            "S3Object": {k: str(s3[k]) for k in ("Bucket", "Name", "Version") if s3.get(k)}
        }
    else:
        path = Path(str(video["Path"])).expanduser()
        if not path.is_absolute():
            raise SourceError("Video.Path must be absolute (it is read on the server's machine)")
        mapping["Video"] = {"Path": str(path)}
    stamp = body.get("ProducerTimestamp")
    if stamp is not None:
        if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp < 0:
            raise SourceError("ProducerTimestamp is Unix time in milliseconds (a whole number)")
        mapping["ProducerTimestamp"] = stamp
    return {"StreamArn": arn, **mapping}


def open_source(state: AppState, stream_arn: str, mapping: dict[str, Any]) -> Clip:
    """The mapped video, opened; StreamUnavailable saying why not."""
    video = mapping["Video"]
    try:
        if "Path" in video:
            return open_clip(Path(video["Path"]))
        from rekognition_emulator.emulator.aws.s3 import s3_for

        s3 = video["S3Object"]
        account = arns.parse(stream_arn).account
        data = s3_for(state).get_object(account, s3["Bucket"], s3["Name"], s3.get("Version"))
        return open_clip(data)
    except errors.InvalidS3ObjectException as exc:
        raise StreamUnavailable(f"The video of {stream_arn} cannot be read: {exc.message}") from exc
    except ClipError as exc:
        raise StreamUnavailable(f"The video of {stream_arn} cannot be decoded: {exc}") from exc


def _describe(clip: Clip) -> dict[str, Any]:
    return {
        "FrameWidth": clip.width,
        "FrameHeight": clip.height,
        "FrameRate": round(clip.fps, 3),
        "DurationMillis": int(clip.duration_ms),
    }


# -- the admin endpoints --------------------------------------------------------------------
@admin_route("/_emulator/streams", methods=["POST"])
async def map_stream(request: Request, state: AppState) -> Response:
    raw = await request.body()
    return await run_in_threadpool(_map_stream, state, raw)


def _map_stream(state: AppState, raw: bytes) -> Response:
    try:
        mapping = parse_mapping(json.loads(raw or b"null"))
        with open_source(state, mapping["StreamArn"], mapping) as clip:
            described = _describe(clip)
    except (SourceError, StreamUnavailable) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except ValueError:
        return JSONResponse({"error": "the body is not JSON"}, status_code=400)
    arn = mapping.pop("StreamArn")
    stream_processors(state).map_source(arn, mapping)
    return JSONResponse({"StreamArn": arn, **mapping, **described})


@admin_route("/_emulator/streams", methods=["GET"])
def list_streams(request: Request, state: AppState) -> Response:
    return JSONResponse({"streams": stream_processors(state).sources()})


@admin_route("/_emulator/streams", methods=["DELETE"])
def unmap_stream(request: Request, state: AppState) -> Response:
    arn = request.query_params.get("StreamArn", "")
    if not arn:
        return JSONResponse({"error": "give the stream as ?StreamArn=<arn>"}, status_code=400)
    if not stream_processors(state).unmap_source(arn):
        return JSONResponse({"error": f"no mapping for {arn}"}, status_code=404)
    return JSONResponse({"StreamArn": arn, "unmapped": True})


# -- the CLI ---------------------------------------------------------------------------------
def _default_endpoint() -> str:
    from rekognition_emulator.emulator.server.config import Config

    config = Config.resolve({})
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    return f"http://{host}:{config.port}"


def _request(endpoint: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        endpoint.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def source_argument(text: str) -> dict[str, Any]:
    """`s3://bucket/key[?versionId=v]` or a path on this machine -> the mapping's Video."""
    if text.startswith("s3://"):
        parsed = urllib.parse.urlsplit(text)
        key = parsed.path.lstrip("/")
        if not parsed.netloc or not key:
            raise SourceError(f"{text} is not s3://bucket/key")
        s3 = {"Bucket": parsed.netloc, "Name": key}
        version = urllib.parse.parse_qs(parsed.query).get("versionId")
        if version:
            s3["Version"] = version[0]
        return {"S3Object": s3}
    return {"Path": str(Path(text).expanduser().resolve())}


@cli_command("streams", help="map Kinesis video stream ARNs to videos (see `streams --help`)")
def streams_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rekognition-emulator streams",
        description="Say which video a Kinesis video stream plays, on a running emulator "
        "(POST /_emulator/streams): a started stream processor reads it as a live stream.",
    )
    parser.add_argument(
        "--endpoint-url",
        default=None,
        help="the emulator (default http://<REKOGNITION_EMULATOR_HOST>:<..._PORT>)",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    mapped = sub.add_parser("map", help="map a stream ARN to s3://bucket/key or a file path")
    mapped.add_argument("stream_arn")
    mapped.add_argument("source", help="s3://bucket/key[?versionId=v] or a path")
    mapped.add_argument("--loop", action="store_true", help="replay the video without end")
    mapped.add_argument(
        "--producer-timestamp", type=int, help="producer time of the first frame (Unix ms)"
    )
    sub.add_parser("list", help="the mappings")
    unmapped = sub.add_parser("unmap", help="forget a stream's mapping")
    unmapped.add_argument("stream_arn")
    args = parser.parse_args(argv)
    endpoint = args.endpoint_url or _default_endpoint()
    try:
        if args.action == "map":
            body: dict[str, Any] = {
                "StreamArn": args.stream_arn,
                "Video": source_argument(args.source),
                "Loop": args.loop,
            }
            if args.producer_timestamp is not None:
                body["ProducerTimestamp"] = args.producer_timestamp
            status, reply = _request(endpoint, "POST", "/_emulator/streams", body)
        elif args.action == "list":
            status, reply = _request(endpoint, "GET", "/_emulator/streams")
        else:
            query = urllib.parse.urlencode({"StreamArn": args.stream_arn})
            status, reply = _request(endpoint, "DELETE", f"/_emulator/streams?{query}")
    except SourceError as exc:
        print(f"rekognition-emulator streams: {exc}", file=sys.stderr)
        return 2
    except (urllib.error.URLError, OSError) as exc:
        print(f"rekognition-emulator streams: cannot reach {endpoint}: {exc}", file=sys.stderr)
        return 1
    if status >= 400:
        message = reply.get("error") if isinstance(reply, dict) else reply
        print(f"rekognition-emulator streams: {message}", file=sys.stderr)
        return 1
    print(json.dumps(reply, indent=2))
    return 0
