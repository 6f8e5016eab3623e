"""CreateFaceLivenessSession and GetFaceLivenessSessionResults.

A session is CREATED, IN_PROGRESS while a selfie video is being checked, then SUCCEEDED (a
confidence, reference and audit images, feedback) or FAILED (the check could not be made: no
face in the video, a video that cannot be decoded); EXPIRED once Config.liveness_session_seconds
(AWS: 3 minutes) have passed since its creation, whatever it was, its data gone with it. The
video comes through `POST /_emulator/liveness/{SessionId}` (submit.py): the real flow streams
it from the Amplify FaceLivenessDetector over a WebSocket, which this emulator does not serve.
"""

from __future__ import annotations

import base64
from typing import Any

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store.liveness import (
    CREATED,
    EXPIRED,
    FAILED,
    SUCCEEDED,
    LivenessSession,
    liveness_sessions,
)
from rekognition_emulator.handlers._ids import new_session_id

DEFAULT_CHALLENGE = "FaceMovementAndLightChallenge"
# The challenge versions this emulator offers (the Amplify detector asks for
# FaceMovementAndLightChallenge_2.0.0 or FaceMovementChallenge_1.0.0); the highest a preference
# allows is chosen.
CHALLENGE_VERSIONS = {
    "FaceMovementAndLightChallenge": ("1.0.0", "2.0.0"),
    "FaceMovementChallenge": ("1.0.0",),
}


def invalid(message: str) -> errors.InvalidParameterException:
    return errors.InvalidParameterException(f"Request has invalid parameters: {message}")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def choose_challenge(preferences: list[dict[str, Any]] | None) -> dict[str, str]:
    """The first preference this emulator can meet, at the highest version it allows."""
    if not preferences:
        kind = DEFAULT_CHALLENGE
        return {"Type": kind, "Version": CHALLENGE_VERSIONS[kind][-1]}
    for i, preference in enumerate(preferences):
        versions = preference.get("Versions") or {}
        low, high = versions.get("Minimum"), versions.get("Maximum")
        if low and high and _version(low) > _version(high):
            raise invalid(
                f"Settings.ChallengePreferences[{i}].Versions: Minimum {low} is above Maximum "
                f"{high}"
            )
    for preference in preferences:
        kind = preference["Type"]
        versions = preference.get("Versions") or {}
        fitting = [
            v
            for v in CHALLENGE_VERSIONS[kind]
            if (not versions.get("Minimum") or _version(v) >= _version(versions["Minimum"]))
            and (not versions.get("Maximum") or _version(v) <= _version(versions["Maximum"]))
        ]
        if fitting:
            return {"Type": kind, "Version": fitting[-1]}
    offered = "; ".join(f"{k} {', '.join(v)}" for k, v in CHALLENGE_VERSIONS.items())
    raise invalid(
        f"no challenge in Settings.ChallengePreferences is available (offered: {offered})"
    )


@operation("CreateFaceLivenessSession")
def create_face_liveness_session(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    settings = params.get("Settings") or {}
    challenge = choose_challenge(settings.get("ChallengePreferences"))
    stored = {
        "KmsKeyId": params.get("KmsKeyId"),
        "OutputConfig": settings.get("OutputConfig"),
        "AuditImagesLimit": int(settings.get("AuditImagesLimit") or 0),
        "Challenge": challenge,
    }
    session = liveness_sessions(ctx.state).create(
        ctx.account, ctx.region, new_session_id(), params.get("ClientRequestToken"), stored
    )
    return {"SessionId": session.session_id}


def _image(stored: dict[str, Any]) -> dict[str, Any]:
    image: dict[str, Any] = {"BoundingBox": stored["BoundingBox"]}
    if "S3Object" in stored:
        image["S3Object"] = stored["S3Object"]
    else:
        image["Bytes"] = base64.b64decode(stored["Bytes"])
    return image


def results(session: LivenessSession) -> dict[str, Any]:
    out: dict[str, Any] = {"SessionId": session.session_id, "Status": session.status}
    result = session.result or {}
    if session.status == SUCCEEDED:
        out["Confidence"] = result["Confidence"]
    if session.status in (SUCCEEDED, FAILED):
        if result.get("ReferenceImage"):
            out["ReferenceImage"] = _image(result["ReferenceImage"])
        out["AuditImages"] = [_image(x) for x in result.get("AuditImages", [])]
    if session.status not in (CREATED, EXPIRED):
        out["Challenge"] = session.settings["Challenge"]
    if session.status == SUCCEEDED:
        out["Feedback"] = result.get("Feedback", [])
    if result.get("SDKType"):
        out["Metadata"] = {"SDKType": result["SDKType"]}
    return out


@operation("GetFaceLivenessSessionResults")
def get_face_liveness_session_results(
    ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    return results(liveness_sessions(ctx.state).get(ctx.account, ctx.region, params["SessionId"]))
