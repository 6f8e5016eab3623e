"""What CreateStreamProcessor, StartStreamProcessor and UpdateStreamProcessor accept, beyond
what the service model checks (the shell has checked types, lengths, ranges and patterns).

The rules are the API reference's, member by member: a face search processor reads a Kinesis
video stream into a Kinesis data stream with a collection; a label detection ("connected
home") processor writes to S3 and notifies an SNS topic, may watch regions of the frame, is
started with a start and a stop selector and is the only kind UpdateStreamProcessor changes.
Each violation is an InvalidParameterException saying which member is wrong and why.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rekognition_emulator.emulator.server import errors

FACE_SEARCH = "FACE_SEARCH"
CONNECTED_HOME = "CONNECTED_HOME"
CONNECTED_HOME_LABELS = ("PERSON", "PET", "PACKAGE")
ALL_LABELS = "ALL"
# FaceSearchSettings.FaceMatchThreshold and ConnectedHomeSettings.MinConfidence when absent.
DEFAULT_FACE_MATCH_THRESHOLD = 80.0
DEFAULT_MIN_CONFIDENCE = 50.0
# StreamProcessingStopSelector.MaxDurationInSeconds: "The default is 10 seconds."
DEFAULT_MAX_DURATION_SECONDS = 10
MAX_REGIONS = 10
MAX_POLYGON_POINTS = 10


def invalid(message: str) -> errors.InvalidParameterException:
    return errors.InvalidParameterException(f"Request has invalid parameters: {message}")


def _arn(section: Mapping[str, Any] | None, member: str, what: str) -> str:
    arn = (section or {}).get(member, {}).get("Arn") if section else None
    if not arn:
        raise invalid(f"{what} is required")
    return str(arn)


def create_settings(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, the settings to store) of a valid CreateStreamProcessor request."""
    settings = params.get("Settings") or {}
    face, home = settings.get("FaceSearch"), settings.get("ConnectedHome")
    if (face is None) == (home is None):
        raise invalid("Settings must have exactly one of FaceSearch or ConnectedHome")
    _arn(params.get("Input"), "KinesisVideoStream", "Input.KinesisVideoStream.Arn")
    output = params.get("Output") or {}
    data_stream, s3 = output.get("KinesisDataStream"), output.get("S3Destination")
    if face is not None:
        kind = FACE_SEARCH
        if not face.get("CollectionId"):
            raise invalid("Settings.FaceSearch.CollectionId is required")
        if s3 is not None:
            raise invalid(
                "a face search stream processor writes to Output.KinesisDataStream, "
                "not to Output.S3Destination"
            )
        _arn(output, "KinesisDataStream", "Output.KinesisDataStream.Arn")
        for member in ("RegionsOfInterest", "KmsKeyId"):
            if params.get(member) is not None:
                raise invalid(
                    f"{member} is for label detection stream processors; a face "
                    "search stream processor does not take it"
                )
    else:
        kind = CONNECTED_HOME
        check_labels(home.get("Labels"), "Settings.ConnectedHome.Labels")
        if data_stream is not None:
            raise invalid(
                "a label detection stream processor writes to Output.S3Destination, "
                "not to Output.KinesisDataStream"
            )
        if not (s3 or {}).get("Bucket"):
            raise invalid(
                "Output.S3Destination.Bucket is required for a label detection stream processor"
            )
        if not (params.get("NotificationChannel") or {}).get("SNSTopicArn"):
            raise invalid(
                "NotificationChannel.SNSTopicArn is required for a label detection stream processor"
            )
        if params.get("RegionsOfInterest") is not None:
            check_regions(params["RegionsOfInterest"], "RegionsOfInterest")
    stored = {
        k: copy.deepcopy(params[k])
        for k in (
            "Input",
            "Output",
            "Settings",
            "RoleArn",
            "NotificationChannel",
            "KmsKeyId",
            "RegionsOfInterest",
            "DataSharingPreference",
        )
        if params.get(k) is not None
    }
    return kind, stored


def check_labels(labels: Any, where: str) -> None:
    if not labels:
        raise invalid(f"{where} must name at least one of PERSON, PET, PACKAGE, ALL")
    wrong = sorted({str(x) for x in labels} - {*CONNECTED_HOME_LABELS, ALL_LABELS})
    if wrong:
        raise invalid(
            f"{where} has {', '.join(wrong)}: the labels are PERSON, PET, PACKAGE and ALL"
        )


def wanted_labels(labels: list[str]) -> tuple[str, ...]:
    """The labels a processor looks for, ALL spelled out, in the documented order."""
    chosen = set(labels)
    if ALL_LABELS in chosen:
        return CONNECTED_HOME_LABELS
    return tuple(label for label in CONNECTED_HOME_LABELS if label in chosen)


def check_regions(regions: list[dict[str, Any]], where: str) -> None:
    """Each region is a BoundingBox or a Polygon (not both) inside the frame: ratios 0..1."""
    if len(regions) > MAX_REGIONS:
        raise invalid(f"{where} has {len(regions)} regions; at most {MAX_REGIONS}")
    for i, region in enumerate(regions):
        at = f"{where}[{i}]"
        box, polygon = region.get("BoundingBox"), region.get("Polygon")
        if (box is None) == (polygon is None):
            raise invalid(f"{at} must have exactly one of BoundingBox or Polygon")
        if box is not None:
            missing = [m for m in ("Width", "Height", "Left", "Top") if box.get(m) is None]
            if missing:
                raise invalid(f"{at}.BoundingBox lacks {', '.join(missing)}")
            w, h, left, top = (float(box[m]) for m in ("Width", "Height", "Left", "Top"))
            if not (0 < w <= 1 and 0 < h <= 1 and 0 <= left < 1 and 0 <= top < 1):
                raise invalid(
                    f"{at}.BoundingBox must lie in the frame: Width and Height in "
                    "(0, 1], Left and Top in [0, 1)"
                )
            if left + w > 1 + 1e-6 or top + h > 1 + 1e-6:
                raise invalid(f"{at}.BoundingBox reaches outside the frame")
        else:
            if not 3 <= len(polygon) <= MAX_POLYGON_POINTS:
                raise invalid(
                    f"{at}.Polygon has {len(polygon)} points; a polygon has 3 to "
                    f"{MAX_POLYGON_POINTS}"
                )
            for j, point in enumerate(polygon):
                x, y = point.get("X"), point.get("Y")
                if x is None or y is None or not (0 <= float(x) <= 1 and 0 <= float(y) <= 1):
                    raise invalid(f"{at}.Polygon[{j}] must have X and Y between 0 and 1")


def session_request(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The selectors of a valid StartStreamProcessor request, as the session keeps them."""
    start, stop = params.get("StartSelector"), params.get("StopSelector")
    if kind == FACE_SEARCH:
        for member, given in (("StartSelector", start), ("StopSelector", stop)):
            if given is not None:
                raise invalid(
                    f"{member} is for label detection stream processors; a face "
                    "search stream processor does not take it"
                )
        return {}
    selector = (start or {}).get("KVSStreamStartSelector")
    if not selector:
        raise invalid(
            "StartSelector.KVSStreamStartSelector is required to start a label "
            "detection stream processor"
        )
    given = [m for m in ("ProducerTimestamp", "FragmentNumber") if selector.get(m) is not None]
    if len(given) != 1:
        raise invalid(
            "StartSelector.KVSStreamStartSelector must have one of ProducerTimestamp "
            "or FragmentNumber"
        )
    seconds = (stop or {}).get("MaxDurationInSeconds", DEFAULT_MAX_DURATION_SECONDS)
    return {
        "StartSelector": {"KVSStreamStartSelector": dict(selector)},
        "StopSelector": {"MaxDurationInSeconds": int(seconds)},
    }


def updated_settings(kind: str, stored: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    """The settings after a valid UpdateStreamProcessor request."""
    if kind != CONNECTED_HOME:
        raise invalid(
            "UpdateStreamProcessor changes label detection (ConnectedHome) stream processors only"
        )
    home_update = (params.get("SettingsForUpdate") or {}).get("ConnectedHomeForUpdate")
    regions = params.get("RegionsOfInterestForUpdate")
    sharing = params.get("DataSharingPreferenceForUpdate")
    deletions = list(params.get("ParametersToDelete") or [])
    if home_update is None and regions is None and sharing is None and not deletions:
        raise invalid(
            "nothing to update: give SettingsForUpdate, RegionsOfInterestForUpdate, "
            "DataSharingPreferenceForUpdate or ParametersToDelete"
        )
    settings = copy.deepcopy(dict(stored))
    home = settings["Settings"]["ConnectedHome"]
    if home_update is not None:
        if home_update.get("Labels") is not None:
            check_labels(home_update["Labels"], "SettingsForUpdate.ConnectedHomeForUpdate.Labels")
            home["Labels"] = list(home_update["Labels"])
        if home_update.get("MinConfidence") is not None:
            if "ConnectedHomeMinConfidence" in deletions:
                raise invalid("ConnectedHomeMinConfidence cannot be set and deleted at once")
            home["MinConfidence"] = home_update["MinConfidence"]
    if regions is not None:
        if "RegionsOfInterest" in deletions:
            raise invalid("RegionsOfInterest cannot be set and deleted at once")
        check_regions(regions, "RegionsOfInterestForUpdate")
        settings["RegionsOfInterest"] = copy.deepcopy(regions)
    if sharing is not None:
        settings["DataSharingPreference"] = dict(sharing)
    if "ConnectedHomeMinConfidence" in deletions:
        home.pop("MinConfidence", None)
    if "RegionsOfInterest" in deletions:
        settings.pop("RegionsOfInterest", None)
    return settings
