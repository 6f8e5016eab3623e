"""`POST /_emulator/liveness/{SessionId}`: what the Amplify FaceLivenessDetector would stream,
given by a test. One submission per session (AWS: a session id is good for one check).

    Content-Type: video/mp4 | video/webm | application/octet-stream   the selfie video itself
    Content-Type: application/json
        {"video": "<base64>"}                                          the same, in JSON
        {"frames": ["<base64 JPEG or PNG>", ...], "fps": 10}           frames in order
        {"confidence": 12.5}                                           a scripted outcome
        {"outcome": "FAILED"}                                          a scripted failure
    (a scripted "confidence" may come with a video or frames: the images are picked from
    them, the confidence is the one given; "sdk_type" or ?sdk_type= fills Metadata.SDKType)

The answer is the session's new status with what was measured (`Cues`, see scoring.py):
200 on a check made (SUCCEEDED or FAILED), 400 when the body is not one of the above, 404
for an unknown session, 409 when the session is not CREATED (already checked, or EXPIRED).
`GET /_emulator/liveness/{SessionId}` shows a session with its cues. Sessions are looked up
by id in every account and region; `?account=&region=` picks one where ids collide.

Reference and audit images are whole frames as JPEG (at most 204,800 bytes, AWS's limit for
Bytes), with the face's BoundingBox; with OutputConfig they are written to
`<S3KeyPrefix><SessionId>/reference.jpg` and `.../audit_<n>.jpg` in the session's account.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rekognition_emulator.emulator.aws.s3 import put_object
from rekognition_emulator.emulator.media.clip import ClipError, open_clip
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.registry import admin_route
from rekognition_emulator.emulator.store.liveness import (
    CREATED,
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    LivenessSession,
    liveness_sessions,
)
from rekognition_emulator.handlers.analysis.numbers import f32
from rekognition_emulator.handlers.liveness import scoring

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

log = logging.getLogger("rekognition_emulator.liveness")

MAX_BODY = 50 * 1024 * 1024
MAX_IMAGE_BYTES = 204_800  # LivenessImageBlob's max
DEFAULT_FPS = 10.0
READ_EVERY_MS = 100.0  # videos of unknown length are read at 10 frames a second at most


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _reply(status: int, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status_code=status)


# -- reading the submission ---------------------------------------------------------------------
def _downscaled(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    k = min(1.0, scoring.WORK_SIDE / max(h, w))
    if k >= 1.0:
        return rgb
    return cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)


def video_frames(data: bytes) -> list[tuple[float, np.ndarray]]:
    """Frames of a video, evenly thinned to a few times what the scoring samples."""
    try:
        with open_clip(data) as clip:
            every = clip.duration_ms / (2 * scoring.MAX_SAMPLES) if clip.duration_ms else 0.0
            frames: list[tuple[float, np.ndarray]] = []
            stride, seen = 1, 0
            for frame in clip.frames(every_ms=every or READ_EVERY_MS):
                if seen % stride == 0:
                    frames.append((frame.millis, _downscaled(frame.rgb)))
                    if len(frames) >= 4 * scoring.MAX_SAMPLES:
                        frames, stride = frames[::2], stride * 2
                seen += 1
    except ClipError as exc:
        raise Refused(400, f"the video cannot be decoded: {exc}") from None
    if not frames:
        raise Refused(400, "the video has no frames")
    return frames


def image_frames(items: Any, fps: Any) -> list[tuple[float, np.ndarray]]:
    if not isinstance(items, list) or not items:
        raise Refused(400, '"frames" must be a non-empty list of base64 images')
    try:
        rate = float(fps) if fps is not None else DEFAULT_FPS
    except (TypeError, ValueError):
        rate = 0.0
    if rate <= 0:
        raise Refused(400, '"fps" must be a positive number')
    frames = []
    for i, item in enumerate(items):
        try:
            raw = base64.b64decode(item, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise Refused(400, f"frames[{i}] is not base64") from None
        bgr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise Refused(400, f"frames[{i}] is not an image OpenCV can decode")
        frames.append((i * 1000.0 / rate, _downscaled(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))))
    return frames


def parse(content_type: str, body: bytes, sdk_type: str | None) -> dict[str, Any]:
    """{"frames": [...] | None, "confidence": float | None, "outcome": str | None, "sdk_type"}"""
    if not body:
        raise Refused(400, "the body is empty: send a video, frames or a scripted outcome")
    out: dict[str, Any] = {"frames": None, "confidence": None, "outcome": None, "sdk": sdk_type}
    if not content_type.startswith("application/json"):
        out["frames"] = video_frames(body)
        return out
    try:
        given = json.loads(body)
    except ValueError:
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(given, dict):
        raise Refused(400, "the body must be a JSON object")
    if given.get("video") is not None:
        try:
            out["frames"] = video_frames(base64.b64decode(given["video"], validate=True))
        except (binascii.Error, TypeError, ValueError):
            raise Refused(400, '"video" is not base64') from None
    elif given.get("frames") is not None:
        out["frames"] = image_frames(given["frames"], given.get("fps"))
    confidence = given.get("confidence")
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            raise Refused(400, '"confidence" must be a number from 0 to 100')
        if not 0 <= confidence <= 100:
            raise Refused(400, '"confidence" must be a number from 0 to 100')
        out["confidence"] = float(confidence)
    outcome = given.get("outcome")
    if outcome is not None and outcome not in (SUCCEEDED, FAILED):
        raise Refused(400, '"outcome" is SUCCEEDED or FAILED')
    out["outcome"] = outcome
    if given.get("sdk_type") is not None:
        out["sdk"] = str(given["sdk_type"])[:64]
    if out["frames"] is None and out["confidence"] is None and out["outcome"] != FAILED:
        raise Refused(400, 'give "video", "frames", a "confidence" or "outcome": "FAILED"')
    return out


# -- the images -----------------------------------------------------------------------------------
def _jpeg(rgb: np.ndarray) -> bytes:
    """JPEG of at most MAX_IMAGE_BYTES: lower quality, then smaller, until it fits."""
    image = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for _ in range(8):
        for quality in (90, 75, 60):
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(buf) <= MAX_IMAGE_BYTES:
                return buf.tobytes()
        image = cv2.resize(image, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    raise RuntimeError("a frame could not be made small enough")


def _box(look: scoring.Look) -> dict[str, float]:
    x, y, w, h = look.face.box
    height, width = look.rgb.shape[:2]
    return {
        "Width": f32(w / width),
        "Height": f32(h / height),
        "Left": f32(x / width),
        "Top": f32(y / height),
    }


def _store_image(
    state: AppState, session: LivenessSession, look: scoring.Look, name: str
) -> dict[str, Any]:
    data = _jpeg(look.rgb)
    output = session.settings.get("OutputConfig")
    if not output:
        return {"Bytes": base64.b64encode(data).decode("ascii"), "BoundingBox": _box(look)}
    key = f"{output.get('S3KeyPrefix', '')}{session.session_id}/{name}"
    put_object(state, session.account, output["S3Bucket"], key, data, "image/jpeg")
    return {"S3Object": {"Bucket": output["S3Bucket"], "Name": key}, "BoundingBox": _box(look)}


# -- the check ------------------------------------------------------------------------------------
def check(state: AppState, session: LivenessSession, given: dict[str, Any]) -> tuple[str, dict]:
    """(status, result) of a session's check."""
    result: dict[str, Any] = {}
    if given["sdk"]:
        result["SDKType"] = given["sdk"]
    verdict = None
    if given["frames"] is not None:
        verdict = scoring.score(given["frames"], session.settings.get("AuditImagesLimit", 0))
        result["Cues"] = verdict.cues
    if given["outcome"] == FAILED:
        status = FAILED
        result["Reason"] = "the test scripted a failed check"
    elif verdict is not None and verdict.reference is None and given["confidence"] is None:
        status = FAILED
        result["Reason"] = "no face was found in the video"
    else:
        status = SUCCEEDED
    if verdict is not None and verdict.reference is not None:
        try:
            result["ReferenceImage"] = _store_image(
                state, session, verdict.reference, "reference.jpg"
            )
            result["AuditImages"] = [
                _store_image(state, session, look, f"audit_{n}.jpg")
                for n, look in enumerate(verdict.audit)
            ]
        except errors.InvalidS3ObjectException:
            bucket = session.settings["OutputConfig"]["S3Bucket"]
            return FAILED, {**result, "Reason": f"the S3 bucket {bucket} does not exist"}
    if status == SUCCEEDED:
        result["Confidence"] = (
            given["confidence"] if given["confidence"] is not None else verdict.confidence  # type: ignore[union-attr]
        )
        result["Feedback"] = verdict.feedback if verdict is not None else []
    return status, result


def _find(state: AppState, session_id: str, account: str | None, region: str | None) -> Any:
    found = [
        s
        for s in liveness_sessions(state).find(session_id)
        if (not account or s.account == account) and (not region or s.region == region)
    ]
    if not found:
        raise Refused(404, f"no Face Liveness session {session_id}")
    if len(found) > 1:
        raise Refused(409, f"{len(found)} sessions have the id {session_id}: add ?account=&region=")
    return found[0]


def _view(session: LivenessSession) -> dict[str, Any]:
    result = session.result or {}
    view = {"SessionId": session.session_id, "Status": session.status}
    for key in ("Confidence", "Feedback", "Cues", "Reason"):
        if key in result:
            view[key] = result[key]
    return view


def submit(state: AppState, session_id: str, query: dict[str, str], ctype: str, body: bytes):
    try:
        session = _find(state, session_id, query.get("account"), query.get("region"))
        given = parse(ctype, body, query.get("sdk_type"))
        sessions = liveness_sessions(state)

        def begin(s: LivenessSession) -> tuple[str, dict[str, Any] | None]:
            if s.status != CREATED:
                raise Refused(409, f"the session is {s.status}: a session is checked once")
            return IN_PROGRESS, None

        session = sessions.change(session.pk, begin)
    except Refused as exc:
        return _reply(exc.status, {"error": str(exc)})
    try:
        status, result = check(state, session, given)
    except Exception:
        log.exception("the liveness check of session %s failed", session_id)
        status, result = FAILED, {"Reason": "the check failed unexpectedly: see the log"}

    def finish(s: LivenessSession) -> tuple[str, dict[str, Any]] | None:
        return (status, result) if s.status == IN_PROGRESS else None

    return _reply(200, _view(sessions.change(session.pk, finish)))


@admin_route("/_emulator/liveness/{session_id}", methods=["POST"])
async def submit_liveness(request: Request, state: AppState) -> Response:
    body = await request.body()
    if len(body) > MAX_BODY:
        return _reply(413, {"error": f"the body is over {MAX_BODY} bytes"})
    return await run_in_threadpool(
        submit,
        state,
        request.path_params["session_id"],
        dict(request.query_params),
        request.headers.get("content-type", "application/octet-stream").lower(),
        body,
    )


@admin_route("/_emulator/liveness/{session_id}", methods=["GET"])
def show_liveness(request: Request, state: AppState) -> Response:
    query = request.query_params
    try:
        session = _find(
            state, request.path_params["session_id"], query.get("account"), query.get("region")
        )
    except Refused as exc:
        return _reply(exc.status, {"error": str(exc)})
    return _reply(200, {**_view(session), "Account": session.account, "Region": session.region})
