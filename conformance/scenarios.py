"""Per-operation scenarios: valid calls with real photos, and the documented error cases.

Each flow runs the steps whose operations the server implements and skips the rest, so a
scenario starts being exercised the moment its operation lands. A step that fails raises
StepFailed (already recorded); the flow moves on to the next independent group of steps.

The semantic expectations are deliberately few and unarguable (an indexed face is listed;
the same face is found again; a photo of a cup has no face and no text): accuracy lives in the unit and
quality tests, the contract lives here.
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore import xform_name
from botocore.model import OperationModel

from rekognition_emulator.conformance import custom_labels
from rekognition_emulator.conformance.derive import minimal_input, violations
from rekognition_emulator.conformance.harness import Check, Harness, StepFailed
from rekognition_emulator.conformance.images import (
    Photos,
    not_an_image,
    oversized_s3_object,
    testdata_dir,
)
from rekognition_emulator.conformance.videos import conformance_clip, pyav_missing

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# What DetectFaces returns for Attributes DEFAULT and what ALL adds (CONTRACT.md).
DEFAULT_FACE_MEMBERS = {"BoundingBox", "Confidence", "Pose", "Quality", "Landmarks"}
ALL_FACE_MEMBERS = DEFAULT_FACE_MEMBERS | {
    "AgeRange",
    "Smile",
    "Eyeglasses",
    "Sunglasses",
    "Gender",
    "Beard",
    "Mustache",
    "EyesOpen",
    "MouthOpen",
    "Emotions",
    "FaceOccluded",
    "EyeDirection",
}

# Operations whose Image members take the shared image-error cases, with the members that
# carry an image (CompareFaces has two).
IMAGE_MEMBERS: dict[str, tuple[str, ...]] = {
    "DetectFaces": ("Image",),
    "CompareFaces": ("SourceImage", "TargetImage"),
    "IndexFaces": ("Image",),
    "SearchFacesByImage": ("Image",),
    "SearchUsersByImage": ("Image",),
    "DetectLabels": ("Image",),
    "DetectText": ("Image",),
    "DetectModerationLabels": ("Image",),
    "DetectProtectiveEquipment": ("Image",),
    "RecognizeCelebrities": ("Image",),
    "DetectCustomLabels": ("Image",),
}
# Face operations document the 80 px minimum side as InvalidParameterException.
MIN_SIDE_OPERATIONS = {"DetectFaces", "CompareFaces", "IndexFaces", "SearchFacesByImage"}


@dataclass
class Context:
    h: Harness
    photos: Photos
    run_id: str
    bucket: str = ""
    s3_ready: bool = False
    s3_error: str = ""
    video_key: str = ""  # the suite's H.264 clip in the bucket ("" when none could be made)
    video_note: str = ""
    # Finished video jobs by analysis name (LabelDetection ...), for the CLI and JS runners.
    video_jobs: dict[str, str] = field(default_factory=dict)
    video_collection: str = ""
    celebrity: tuple[str, str] | None = None  # (Id, Name) seeded in the emulator's gallery
    media_job: str = ""  # a finished media analysis job (for the CLI and JS checks)

    def name(self, suffix: str) -> str:
        return f"conformance-{self.run_id}-{suffix}"

    def s3_image(self, key: str) -> dict[str, Any]:
        return {"S3Object": {"Bucket": self.bucket, "Name": key}}


@contextmanager
def step() -> Iterator[None]:
    """A group of dependent steps: a failure ends the group (it is recorded already)."""
    try:
        yield
    except StepFailed:
        pass


def _problems(*pairs: tuple[bool, str]) -> list[str]:
    return [text for ok, text in pairs if not ok]


# -- setup --------------------------------------------------------------------------------------
def setup_s3(ctx: Context) -> None:
    """Put the photos (and a too-large object) in a bucket of the S3 the emulator reads."""
    ctx.bucket = ctx.name("bucket")
    try:
        ctx.h.s3.create_bucket(Bucket=ctx.bucket)
        ctx.h.s3.put_object(Bucket=ctx.bucket, Key="face.jpg", Body=ctx.photos.face)
        ctx.h.s3.put_object(Bucket=ctx.bucket, Key="labels.jpg", Body=ctx.photos.labels)
        ctx.h.s3.put_object(Bucket=ctx.bucket, Key="too-large.jpg", Body=oversized_s3_object())
        ctx.s3_ready = True
        _upload_video(ctx)
    except Exception as exc:  # reported in the table's notes; S3 scenarios are then skipped
        ctx.s3_ready = False
        ctx.s3_error = f"{type(exc).__name__}: {exc}"


def teardown_s3(ctx: Context) -> None:
    try:
        if ctx.video_collection:
            ctx.h.rekognition.delete_collection(CollectionId=ctx.video_collection)
    except Exception:
        pass
    try:
        # The photos, the clip, and what the scenarios wrote (manifests, job output).
        listed = ctx.h.s3.list_objects_v2(Bucket=ctx.bucket).get("Contents", [])
        for key in {o["Key"] for o in listed} | {"face.jpg", "labels.jpg", "too-large.jpg"}:
            ctx.h.s3.delete_object(Bucket=ctx.bucket, Key=key)
        ctx.h.s3.delete_bucket(Bucket=ctx.bucket)
    except Exception:
        pass  # best effort: the emulator's data dir is thrown away anyway


# -- generic cases, derived from the model --------------------------------------------------------
def generic_errors(ctx: Context, operation: str, seed: dict[str, Any] | None = None) -> None:
    """Missing required member and one violation of each constraint kind -> ValidationException."""
    h = ctx.h
    op: OperationModel = h.model.operation_model(operation)
    base = seed if seed is not None else minimal_input(op.input_shape, ctx.photos.face)
    required = list(op.input_shape.required_members) if op.input_shape else []
    if required:
        member = required[0]
        params = {k: v for k, v in base.items() if k != member}
        h.expect_error(
            operation,
            params,
            "ValidationException",
            name=f"missing required {member}",
            message_contains=member[:1].lower() + member[1:],
        )
    for violation in violations(op, ctx.photos.face):
        h.expect_error(
            operation,
            violation.apply(base),
            "ValidationException",
            name=f"{violation.kind} violation at {violation.wire_path} ({violation.constraint})",
            message_contains=f"at '{violation.wire_path}",
        )


def image_errors(ctx: Context, operation: str, seed: dict[str, Any]) -> None:
    """The documented image errors, on each image member of an otherwise valid request."""
    h = ctx.h
    first = IMAGE_MEMBERS[operation][0]
    # 5 MB + 1 bytes reach the server (clients check no blob length); AWS answers the model's
    # length limit on Image.Bytes as a ValidationException naming 'image.bytes'.
    oversized = ctx.photos.face + bytes(5 * 1024 * 1024 + 1 - len(ctx.photos.face))
    h.expect_error(
        operation,
        {**seed, first: {"Bytes": oversized}},
        "ValidationException",
        name=f"{first}.Bytes of 5 MB + 1 byte",
        message_contains=f"at '{first[:1].lower() + first[1:]}.bytes'",
    )
    for member in IMAGE_MEMBERS[operation]:

        def with_image(image: dict[str, Any], member: str = member) -> dict[str, Any]:
            return {**seed, member: image}

        h.expect_error(
            operation,
            with_image({"Bytes": not_an_image()}),
            "InvalidImageFormatException",
            name=f"{member}.Bytes not JPEG or PNG",
        )
        if operation in MIN_SIDE_OPERATIONS:
            h.expect_error(
                operation,
                with_image({"Bytes": ctx.photos.tiny}),
                "InvalidParameterException",
                name=f"{member} 64x64 px, under the 80 px minimum",
            )
        if ctx.s3_ready:
            h.expect_error(
                operation,
                with_image(ctx.s3_image("no-such-object.jpg")),
                "InvalidS3ObjectException",
                name=f"{member}.S3Object missing object",
            )
            h.expect_error(
                operation,
                with_image(
                    {"S3Object": {"Bucket": ctx.name("no-such-bucket"), "Name": "face.jpg"}}
                ),
                "InvalidS3ObjectException",
                name=f"{member}.S3Object missing bucket",
            )
            h.expect_error(
                operation,
                with_image(ctx.s3_image("too-large.jpg")),
                "ImageTooLargeException",
                name=f"{member}.S3Object over 15 MB",
            )


def smoke(ctx: Context, operation: str) -> None:
    """For an implemented operation without a scenario: a call derived from the model.

    It must answer either a shape-valid success or an error the operation can return; an
    InternalServerError or an unmodelled error fails it.
    """
    h = ctx.h
    op = h.model.operation_model(operation)
    params = minimal_input(op.input_shape, ctx.photos.face)
    before = len(h.checks)
    try:
        h.call(operation, params, name="request derived from the model")
    except StepFailed:
        code = h.last_error_code
        modelled = {e.name for e in op.error_shapes} - {
            "InternalServerError",
            "ThrottlingException",
        }
        if code in modelled:
            # A modelled error for made-up input is a fair answer: keep it as an error check.
            h.checks[before] = Check(
                operation, "boto3", "error", f"request derived from the model -> {code}", True
            )


# -- faces ----------------------------------------------------------------------------------------
def _face_details(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body.get("FaceDetails") or [])


def _detect_default(body: dict[str, Any]) -> list[str]:
    faces = _face_details(body)
    problems = _problems(
        (len(faces) == 1, f"expected 1 face in the astronaut photo, got {len(faces)}")
    )
    for face in faces:
        missing = DEFAULT_FACE_MEMBERS - set(face)
        extra = set(face) - DEFAULT_FACE_MEMBERS
        problems += _problems(
            (not missing, f"DEFAULT attributes lack {sorted(missing)}"),
            (not extra, f"DEFAULT attributes include {sorted(extra)} (only ALL adds them)"),
        )
    return problems


def _detect_all(body: dict[str, Any]) -> list[str]:
    faces = _face_details(body)
    problems = _problems((len(faces) == 1, f"expected 1 face, got {len(faces)}"))
    for face in faces:
        missing = ALL_FACE_MEMBERS - set(face)
        problems += _problems((not missing, f"ALL attributes lack {sorted(missing)}"))
    return problems


def faces_flow(ctx: Context) -> None:
    h, p = ctx.h, ctx.photos
    if h.has("DetectFaces"):
        with step():
            h.call(
                "DetectFaces",
                {"Image": {"Bytes": p.face}},
                name="one face, DEFAULT",
                expect=_detect_default,
            )
        with step():
            h.call(
                "DetectFaces",
                {"Image": {"Bytes": p.face}, "Attributes": ["ALL"]},
                name="one face, ALL",
                expect=_detect_all,
            )
        with step():
            h.call(
                "DetectFaces",
                {"Image": {"Bytes": p.face}, "Attributes": ["EMOTIONS", "AGE_RANGE"]},
                name="one face, EMOTIONS and AGE_RANGE",
                expect=lambda b: _problems(
                    (
                        all({"Emotions", "AgeRange"} <= set(f) for f in _face_details(b)),
                        "the requested Emotions and AgeRange are missing",
                    )
                ),
            )
        with step():
            h.call(
                "DetectFaces",
                {"Image": {"Bytes": p.no_face}},
                name="no face -> empty FaceDetails",
                expect=lambda b: _problems(
                    (_face_details(b) == [], "faces found in a photo of coffee")
                ),
            )
        if p.group is not None:
            with step():
                h.call(
                    "DetectFaces",
                    {"Image": {"Bytes": p.group}},
                    name="group photo",
                    expect=lambda b: _problems(
                        (
                            len(_face_details(b)) >= 2,
                            f"{len(_face_details(b))} faces in a group of 3",
                        )
                    ),
                )
        if ctx.s3_ready:
            with step():
                h.call(
                    "DetectFaces",
                    {"Image": ctx.s3_image("face.jpg")},
                    name="Image.S3Object",
                    expect=lambda b: _problems((len(_face_details(b)) == 1, "expected 1 face")),
                )
        image_errors(ctx, "DetectFaces", {})
    if h.has("CompareFaces"):
        with step():
            h.call(
                "CompareFaces",
                {"SourceImage": {"Bytes": p.face}, "TargetImage": {"Bytes": p.face_other}},
                name="same person, other photo",
                expect=lambda b: _problems(
                    ("SourceImageFace" in b, "no SourceImageFace"),
                    (
                        len(b.get("FaceMatches") or []) == 1,
                        f"FaceMatches {len(b.get('FaceMatches') or [])}, expected 1",
                    ),
                ),
            )
        # AWS: "If no faces are detected in the source or target images, CompareFaces returns
        # an InvalidParameterException error."
        h.expect_error(
            "CompareFaces",
            {"SourceImage": {"Bytes": p.face}, "TargetImage": {"Bytes": p.no_face}},
            "InvalidParameterException",
            name="no face in the target",
        )
        h.expect_error(
            "CompareFaces",
            {"SourceImage": {"Bytes": p.no_face}, "TargetImage": {"Bytes": p.face}},
            "InvalidParameterException",
            name="no face in the source",
        )
        image_errors(
            ctx,
            "CompareFaces",
            {"SourceImage": {"Bytes": p.face}, "TargetImage": {"Bytes": p.face}},
        )


# -- collections, faces, users, tags --------------------------------------------------------------
def collections_flow(ctx: Context) -> None:
    h, p = ctx.h, ctx.photos
    cid = ctx.name("faces")
    missing = ctx.name("missing")
    missing_arn = f"arn:aws:rekognition:{h.region}:123456789012:collection/{missing}"
    created = False

    # Errors on a collection that does not exist, one per operation that takes one.
    missing_cases: dict[str, dict[str, Any]] = {
        "DescribeCollection": {"CollectionId": missing},
        "DeleteCollection": {"CollectionId": missing},
        "ListFaces": {"CollectionId": missing},
        "IndexFaces": {"CollectionId": missing, "Image": {"Bytes": p.face}},
        "SearchFaces": {"CollectionId": missing, "FaceId": str(uuid.uuid4())},
        "SearchFacesByImage": {"CollectionId": missing, "Image": {"Bytes": p.face}},
        "DeleteFaces": {"CollectionId": missing, "FaceIds": [str(uuid.uuid4())]},
        "CreateUser": {"CollectionId": missing, "UserId": "user-1"},
        "DeleteUser": {"CollectionId": missing, "UserId": "user-1"},
        "ListUsers": {"CollectionId": missing},
        "AssociateFaces": {
            "CollectionId": missing,
            "UserId": "user-1",
            "FaceIds": [str(uuid.uuid4())],
        },
        "DisassociateFaces": {
            "CollectionId": missing,
            "UserId": "user-1",
            "FaceIds": [str(uuid.uuid4())],
        },
        "SearchUsers": {"CollectionId": missing, "UserId": "user-1"},
        "SearchUsersByImage": {"CollectionId": missing, "Image": {"Bytes": p.face}},
        "TagResource": {"ResourceArn": missing_arn, "Tags": {"team": "conformance"}},
        "UntagResource": {"ResourceArn": missing_arn, "TagKeys": ["team"]},
        "ListTagsForResource": {"ResourceArn": missing_arn},
    }
    for operation, params in missing_cases.items():
        if h.has(operation):
            h.expect_error(
                operation, params, "ResourceNotFoundException", name="collection does not exist"
            )

    if not h.has("CreateCollection"):
        return
    arn = ""
    with step():
        body = h.call(
            "CreateCollection",
            {"CollectionId": cid},
            name="new collection",
            expect=lambda b: _problems(
                (b.get("StatusCode") == 200, f"StatusCode {b.get('StatusCode')}, expected 200"),
                (
                    str(b.get("CollectionArn", "")).endswith(f"collection/{cid}"),
                    "CollectionArn does not name the collection",
                ),
                (bool(b.get("FaceModelVersion")), "no FaceModelVersion"),
            ),
        )
        arn = body["CollectionArn"]
        created = True
    if not created:
        return
    h.expect_error(
        "CreateCollection",
        {"CollectionId": cid},
        "ResourceAlreadyExistsException",
        name="collection exists",
    )
    second = ctx.name("second")
    with step():
        h.call("CreateCollection", {"CollectionId": second}, name="second collection")

    if h.has("DescribeCollection"):
        described_arn = "arn:" + arn.removeprefix("arn:")
        with step():
            h.call(
                "DescribeCollection",
                {"CollectionId": cid},
                name="empty collection",
                expect=lambda b: _problems(
                    (b.get("FaceCount") == 0, f"FaceCount {b.get('FaceCount')}, expected 0"),
                    (
                        # AWS documents DescribeCollection's ARN with the "arn:" prefix that
                        # CreateCollection's CollectionArn lacks.
                        b.get("CollectionARN") == described_arn,
                        f"CollectionARN {b.get('CollectionARN')!r} != {described_arn!r}",
                    ),
                    ("CreationTimestamp" in b, "no CreationTimestamp"),
                ),
            )
    if h.has("ListCollections"):
        with step():
            h.call(
                "ListCollections",
                {},
                name="lists the new collections",
                expect=lambda b: _problems(
                    (
                        {cid, second} <= set(b.get("CollectionIds") or []),
                        f"{cid} or {second} not listed",
                    ),
                    (
                        len(b.get("FaceModelVersions") or []) == len(b.get("CollectionIds") or []),
                        "FaceModelVersions not parallel to CollectionIds",
                    ),
                ),
            )
        with step():
            first = h.call(
                "ListCollections",
                {"MaxResults": 1},
                name="MaxResults 1 -> one id and a NextToken",
                expect=lambda b: _problems(
                    (len(b.get("CollectionIds") or []) == 1, "not exactly one id"),
                    (bool(b.get("NextToken")), "no NextToken with more collections to list"),
                ),
            )
            h.call(
                "ListCollections",
                {"MaxResults": 1, "NextToken": first["NextToken"]},
                name="second page",
                expect=lambda b: _problems(
                    (
                        b.get("CollectionIds") != first.get("CollectionIds"),
                        "the second page repeats the first",
                    ),
                ),
            )
        h.expect_error(
            "ListCollections",
            {"NextToken": "not-a-token-we-issued"},
            "InvalidPaginationTokenException",
            name="forged NextToken",
        )

    face_ids: list[str] = []
    if h.has("IndexFaces"):
        with step():
            body = h.call(
                "IndexFaces",
                {
                    "CollectionId": cid,
                    "Image": {"Bytes": p.face},
                    "ExternalImageId": "astronaut.jpg",
                },
                name="one face with ExternalImageId",
                expect=lambda b: _index_problems(b, 1, "astronaut.jpg"),
            )
            face_ids.append(body["FaceRecords"][0]["Face"]["FaceId"])
        with step():
            body = h.call(
                "IndexFaces",
                {
                    "CollectionId": cid,
                    "Image": {"Bytes": p.face_other},
                    "DetectionAttributes": ["ALL"],
                },
                name="same person, other photo, ALL attributes",
                expect=lambda b: (
                    _index_problems(b, 1, None)
                    + _problems(
                        (
                            all(
                                ALL_FACE_MEMBERS <= set(r.get("FaceDetail", {}))
                                for r in b.get("FaceRecords", [])
                            ),
                            "FaceDetail lacks ALL attributes",
                        )
                    )
                ),
            )
            face_ids.append(body["FaceRecords"][0]["Face"]["FaceId"])
        with step():
            h.call(
                "IndexFaces",
                {"CollectionId": cid, "Image": {"Bytes": p.no_face}},
                name="no face -> no FaceRecords",
                expect=lambda b: _problems(
                    (not b.get("FaceRecords"), "faces indexed from a photo of coffee")
                ),
            )
        if p.group is not None:
            with step():
                body = h.call(
                    "IndexFaces",
                    {
                        "CollectionId": second,
                        "Image": {"Bytes": p.group},
                        "MaxFaces": 1,
                        "QualityFilter": "NONE",
                    },
                    name="group photo, MaxFaces 1",
                    expect=lambda b: _problems(
                        (
                            len(b.get("FaceRecords") or []) == 1,
                            "MaxFaces 1 did not index exactly one face",
                        ),
                        (
                            any(
                                "EXCEEDS_MAX_FACES" in (u.get("Reasons") or [])
                                for u in b.get("UnindexedFaces") or []
                            ),
                            "no UnindexedFaces with EXCEEDS_MAX_FACES",
                        ),
                    ),
                )
        image_errors(ctx, "IndexFaces", {"CollectionId": cid})

    if h.has("DescribeCollection") and face_ids:
        with step():
            h.call(
                "DescribeCollection",
                {"CollectionId": cid},
                name="FaceCount after IndexFaces",
                expect=lambda b: _problems(
                    (
                        b.get("FaceCount") == len(face_ids),
                        f"FaceCount {b.get('FaceCount')}, expected {len(face_ids)}",
                    )
                ),
            )
    if h.has("ListFaces"):
        with step():
            h.call(
                "ListFaces",
                {"CollectionId": cid},
                name="lists the indexed faces",
                expect=lambda b: _problems(
                    (
                        sorted(f.get("FaceId") for f in b.get("Faces") or []) == sorted(face_ids),
                        f"Faces {[f.get('FaceId') for f in b.get('Faces') or []]} != indexed {face_ids}",
                    )
                ),
            )
        if len(face_ids) == 2:
            with step():
                first = h.call(
                    "ListFaces",
                    {"CollectionId": cid, "MaxResults": 1},
                    name="MaxResults 1 -> one face and a NextToken",
                    expect=lambda b: _problems(
                        (len(b.get("Faces") or []) == 1, "not exactly one face"),
                        (bool(b.get("NextToken")), "no NextToken"),
                    ),
                )
                h.call(
                    "ListFaces",
                    {"CollectionId": cid, "MaxResults": 1, "NextToken": first["NextToken"]},
                    name="second page",
                    expect=lambda b: _problems(
                        (
                            [f.get("FaceId") for f in b.get("Faces") or []]
                            != [f.get("FaceId") for f in first.get("Faces") or []],
                            "the second page repeats the first",
                        )
                    ),
                )
        h.expect_error(
            "ListFaces",
            {"CollectionId": cid, "NextToken": "not-a-token-we-issued"},
            "InvalidPaginationTokenException",
            name="forged NextToken",
        )

    if h.has("SearchFaces") and len(face_ids) == 2:
        with step():
            h.call(
                "SearchFaces",
                {"CollectionId": cid, "FaceId": face_ids[0]},
                name="finds the same person, not itself",
                expect=lambda b: _problems(
                    (
                        b.get("SearchedFaceId") == face_ids[0],
                        "SearchedFaceId is not the searched face",
                    ),
                    (
                        face_ids[0]
                        not in [m["Face"]["FaceId"] for m in b.get("FaceMatches") or []],
                        "the searched face matches itself",
                    ),
                    (
                        face_ids[1] in [m["Face"]["FaceId"] for m in b.get("FaceMatches") or []],
                        "the other photo of the same person is not found",
                    ),
                ),
            )
    if h.has("SearchFacesByImage") and face_ids:
        with step():
            h.call(
                "SearchFacesByImage",
                {"CollectionId": cid, "Image": {"Bytes": p.face}},
                name="finds the indexed face",
                expect=lambda b: _problems(
                    ("SearchedFaceBoundingBox" in b, "no SearchedFaceBoundingBox"),
                    ("SearchedFaceConfidence" in b, "no SearchedFaceConfidence"),
                    (
                        face_ids[0] in [m["Face"]["FaceId"] for m in b.get("FaceMatches") or []],
                        "the face indexed from these very bytes is not found",
                    ),
                ),
            )
        h.expect_error(
            "SearchFacesByImage",
            {"CollectionId": cid, "Image": {"Bytes": p.no_face}},
            "InvalidParameterException",
            name="no face in the image",
        )
        image_errors(ctx, "SearchFacesByImage", {"CollectionId": cid})

    users_flow(ctx, cid, face_ids)
    tags_flow(ctx, arn)

    if h.has("DeleteFaces") and face_ids:
        with step():
            unknown = str(uuid.uuid4())
            h.call(
                "DeleteFaces",
                {"CollectionId": cid, "FaceIds": [face_ids[-1], unknown]},
                name="one indexed face and one unknown id",
                expect=lambda b: _problems(
                    (
                        b.get("DeletedFaces") == [face_ids[-1]],
                        f"DeletedFaces {b.get('DeletedFaces')}, expected [{face_ids[-1]}]",
                    ),
                ),
            )
    if h.has("DeleteCollection"):
        for collection in (cid, second):
            with step():
                h.call(
                    "DeleteCollection",
                    {"CollectionId": collection},
                    name="existing collection",
                    expect=lambda b: _problems(
                        (b.get("StatusCode") == 200, f"StatusCode {b.get('StatusCode')}")
                    ),
                )
        if h.has("DescribeCollection"):
            h.expect_error(
                "DescribeCollection",
                {"CollectionId": cid},
                "ResourceNotFoundException",
                name="after DeleteCollection",
            )


def _index_problems(body: dict[str, Any], faces: int, external_id: str | None) -> list[str]:
    records = body.get("FaceRecords") or []
    problems = _problems(
        (len(records) == faces, f"{len(records)} FaceRecords, expected {faces}"),
        (bool(body.get("FaceModelVersion")), "no FaceModelVersion"),
    )
    for record in records:
        face = record.get("Face", {})
        problems += _problems(
            (bool(UUID_RE.fullmatch(str(face.get("FaceId", "")))), "FaceId is not a UUID"),
            (bool(UUID_RE.fullmatch(str(face.get("ImageId", "")))), "ImageId is not a UUID"),
            ("FaceDetail" in record, "no FaceDetail"),
        )
        if external_id is not None:
            problems += _problems(
                (face.get("ExternalImageId") == external_id, "ExternalImageId not echoed")
            )
    return problems


def users_flow(ctx: Context, cid: str, face_ids: list[str]) -> None:
    h, p = ctx.h, ctx.photos
    if not h.has("CreateUser"):
        return
    user = "user-1"
    with step():
        h.call("CreateUser", {"CollectionId": cid, "UserId": user}, name="new user")
    h.expect_error(
        "CreateUser",
        {"CollectionId": cid, "UserId": user, "ClientRequestToken": str(uuid.uuid4())},
        "ConflictException",
        name="user exists (new ClientRequestToken)",
    )
    if h.has("ListUsers"):
        with step():
            h.call(
                "ListUsers",
                {"CollectionId": cid},
                name="lists the user",
                expect=lambda b: _problems(
                    (user in [u.get("UserId") for u in b.get("Users") or []], f"{user} not listed")
                ),
            )
        h.expect_error(
            "ListUsers",
            {"CollectionId": cid, "NextToken": "not-a-token-we-issued"},
            "InvalidPaginationTokenException",
            name="forged NextToken",
        )
    associated = False
    if h.has("AssociateFaces") and face_ids:
        with step():
            h.call(
                "AssociateFaces",
                {"CollectionId": cid, "UserId": user, "FaceIds": face_ids},
                name="the user's two faces",
                expect=lambda b: _problems(
                    (
                        sorted(f.get("FaceId") for f in b.get("AssociatedFaces") or [])
                        == sorted(face_ids),
                        f"AssociatedFaces {b.get('AssociatedFaces')} != {face_ids}",
                    ),
                    ("UserStatus" in b, "no UserStatus"),
                ),
            )
            associated = True
        unknown = str(uuid.uuid4())
        with step():
            h.call(
                "AssociateFaces",
                {"CollectionId": cid, "UserId": user, "FaceIds": [unknown]},
                name="unknown face id -> UnsuccessfulFaceAssociations",
                expect=lambda b: _problems(
                    (
                        unknown
                        in [f.get("FaceId") for f in b.get("UnsuccessfulFaceAssociations") or []],
                        "the unknown face is not in UnsuccessfulFaceAssociations",
                    )
                ),
            )
    if associated and h.has("SearchUsers"):
        with step():
            h.call(
                "SearchUsers",
                {"CollectionId": cid, "FaceId": face_ids[0]},
                name="by one of the user's faces",
                expect=lambda b: _problems(
                    (
                        user
                        in [m.get("User", {}).get("UserId") for m in b.get("UserMatches") or []],
                        f"{user} not in UserMatches",
                    ),
                    (
                        b.get("SearchedFace", {}).get("FaceId") == face_ids[0],
                        "SearchedFace.FaceId is not the searched face",
                    ),
                ),
            )
    if associated and h.has("SearchUsersByImage"):
        with step():
            h.call(
                "SearchUsersByImage",
                {"CollectionId": cid, "Image": {"Bytes": p.face}},
                name="finds the user",
                expect=lambda b: _problems(
                    (
                        user
                        in [m.get("User", {}).get("UserId") for m in b.get("UserMatches") or []],
                        f"{user} not in UserMatches",
                    ),
                ),
            )
    if h.has("SearchUsersByImage"):
        # Unlike SearchFacesByImage, AWS documents no error here: "If no valid face is
        # detected in the image, the response will contain an empty UserMatches list and no
        # SearchedFace object."
        with step():
            h.call(
                "SearchUsersByImage",
                {"CollectionId": cid, "Image": {"Bytes": p.no_face}},
                name="no face -> empty UserMatches, no SearchedFace",
                expect=lambda b: _problems(
                    (not b.get("UserMatches"), "UserMatches for a photo without faces"),
                    ("SearchedFace" not in b, "a SearchedFace in a photo without faces"),
                ),
            )
        image_errors(ctx, "SearchUsersByImage", {"CollectionId": cid})
    if associated and h.has("DisassociateFaces"):
        with step():
            h.call(
                "DisassociateFaces",
                {"CollectionId": cid, "UserId": user, "FaceIds": [face_ids[-1]]},
                name="one of the user's faces",
                expect=lambda b: _problems(
                    (
                        [f.get("FaceId") for f in b.get("DisassociatedFaces") or []]
                        == [face_ids[-1]],
                        f"DisassociatedFaces {b.get('DisassociatedFaces')}",
                    )
                ),
            )
    if h.has("DeleteUser"):
        with step():
            h.call("DeleteUser", {"CollectionId": cid, "UserId": user}, name="existing user")
        h.expect_error(
            "DeleteUser",
            {"CollectionId": cid, "UserId": "nobody"},
            "ResourceNotFoundException",
            name="user does not exist",
        )


def tags_flow(ctx: Context, arn: str) -> None:
    h = ctx.h
    if not arn or not h.has("TagResource"):
        return
    with step():
        h.call(
            "TagResource",
            {"ResourceArn": arn, "Tags": {"team": "conformance", "stage": "ci"}},
            name="two tags",
        )
        if h.has("ListTagsForResource"):
            h.call(
                "ListTagsForResource",
                {"ResourceArn": arn},
                name="lists the tags",
                expect=lambda b: _problems(
                    (
                        b.get("Tags") == {"team": "conformance", "stage": "ci"},
                        f"Tags {b.get('Tags')}",
                    )
                ),
            )
        if h.has("UntagResource"):
            h.call("UntagResource", {"ResourceArn": arn, "TagKeys": ["stage"]}, name="one key")
            if h.has("ListTagsForResource"):
                h.call(
                    "ListTagsForResource",
                    {"ResourceArn": arn},
                    name="after UntagResource",
                    expect=lambda b: _problems(
                        (b.get("Tags") == {"team": "conformance"}, f"Tags {b.get('Tags')}")
                    ),
                )


# -- labels, text and the other image operations --------------------------------------------------
def labels_flow(ctx: Context) -> None:
    h, p = ctx.h, ctx.photos
    if h.has("DetectLabels"):
        with step():
            h.call(
                "DetectLabels",
                {"Image": {"Bytes": p.labels}},
                name="cat photo",
                expect=lambda b: _problems(
                    (bool(b.get("Labels")), "no labels for a photo of a cat"),
                    (bool(b.get("LabelModelVersion")), "no LabelModelVersion"),
                ),
            )
        with step():
            h.call(
                "DetectLabels",
                {"Image": {"Bytes": p.labels}, "MaxLabels": 2, "MinConfidence": 10},
                name="MaxLabels 2",
                expect=lambda b: _problems(
                    (len(b.get("Labels") or []) <= 2, f"{len(b.get('Labels') or [])} labels")
                ),
            )
        with step():
            h.call(
                "DetectLabels",
                {"Image": {"Bytes": p.labels}, "Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES"]},
                name="IMAGE_PROPERTIES",
                expect=lambda b: _problems(("ImageProperties" in b, "no ImageProperties")),
            )
        with step():
            h.call(
                "DetectLabels",
                {
                    "Image": {"Bytes": p.labels},
                    "Settings": {
                        "GeneralLabels": {
                            "LabelCategoryExclusionFilters": ["Vehicles and Automotive"]
                        },
                        "ImageProperties": {"MaxDominantColors": 3},
                    },
                    "Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES"],
                },
                name="Settings: category exclusion, 3 dominant colours",
            )
        if ctx.s3_ready:
            with step():
                h.call("DetectLabels", {"Image": ctx.s3_image("labels.jpg")}, name="Image.S3Object")
        image_errors(ctx, "DetectLabels", {})
    if h.has("DetectText"):
        with step():
            h.call(
                "DetectText",
                {"Image": {"Bytes": p.text}},
                name="printed page",
                expect=_text_problems,
            )
        with step():
            h.call(
                "DetectText",
                {"Image": {"Bytes": p.text}, "Filters": {"WordFilter": {"MinConfidence": 99.9}}},
                name="WordFilter",
            )
        with step():
            h.call(
                "DetectText",
                {
                    "Image": {"Bytes": p.text},
                    "Filters": {
                        "RegionsOfInterest": [
                            {"BoundingBox": {"Left": 0.0, "Top": 0.0, "Width": 1.0, "Height": 0.5}}
                        ]
                    },
                },
                name="RegionsOfInterest: the top half",
            )
        with step():
            h.call(
                "DetectText",
                {"Image": {"Bytes": p.no_face}},
                name="photo without text -> no TextDetections",
                # A cup of coffee on a saucer: nothing to read, as "no face" is for DetectFaces.
                expect=lambda b: _problems(
                    (
                        not b.get("TextDetections"),
                        "text read in a photo of coffee: "
                        + ", ".join(
                            f"{d.get('Type')} {d.get('DetectedText')!r} {d.get('Confidence', 0):.1f}%"
                            for d in b.get("TextDetections") or []
                        ),
                    )
                ),
            )
        image_errors(ctx, "DetectText", {})


def _text_problems(body: dict[str, Any]) -> list[str]:
    detections = body.get("TextDetections") or []
    lines = {d.get("Id") for d in detections if d.get("Type") == "LINE"}
    words = [d for d in detections if d.get("Type") == "WORD"]
    return _problems(
        (bool(lines), "no LINE detections on a printed page"),
        (bool(words), "no WORD detections on a printed page"),
        (all(w.get("ParentId") in lines for w in words), "a WORD's ParentId is not a LINE's Id"),
        (len(words) <= 100, f"{len(words)} words, AWS returns at most 100"),
    )


def _moderation_problems(body: dict[str, Any], min_confidence: float = 50.0) -> list[str]:
    labels = body.get("ModerationLabels") or []
    names = {label.get("Name") for label in labels}
    problems = _problems(
        (body.get("ModerationModelVersion") == "7.0", "ModerationModelVersion is not 7.0"),
        ("ContentTypes" in body, "no ContentTypes"),
    )
    for label in labels:
        parent = label.get("ParentName")
        level = label.get("TaxonomyLevel")
        problems += _problems(
            (
                label.get("Confidence", 0) >= min_confidence,
                f"{label.get('Name')} under MinConfidence",
            ),
            (level in (1, 2, 3), f"{label.get('Name')}: TaxonomyLevel {level}"),
            (
                (parent == "") == (level == 1),
                f"{label.get('Name')}: ParentName {parent!r} at level {level}",
            ),
            (
                parent == "" or parent in names,
                f"{label.get('Name')}: parent {parent!r} not reported",
            ),
        )
    return problems


def moderation_flow(ctx: Context) -> None:
    h, p = ctx.h, ctx.photos
    if not h.has("DetectModerationLabels"):
        return
    with step():
        h.call(
            "DetectModerationLabels",
            {"Image": {"Bytes": p.face}},
            name="portrait -> no label at the default MinConfidence",
            expect=lambda b: (
                _moderation_problems(b)
                + _problems(
                    (
                        not b.get("ModerationLabels"),
                        f"labels on a portrait: {b.get('ModerationLabels')}",
                    )
                )
            ),
        )
    with step():
        h.call(
            "DetectModerationLabels",
            {"Image": {"Bytes": p.labels}, "MinConfidence": 0},
            name="MinConfidence 0: parents reported with their children",
            expect=lambda b: _moderation_problems(b, 0.0),
        )
    with step():
        h.call(
            "DetectModerationLabels",
            {
                "Image": {"Bytes": p.no_face},
                "HumanLoopConfig": {
                    "HumanLoopName": "conformance",
                    "FlowDefinitionArn": f"arn:aws:sagemaker:{h.region}:123456789012:flow-definition/c",
                },
            },
            name="HumanLoopConfig accepted, no review started",
            expect=lambda b: _problems(
                (
                    "HumanLoopArn" not in (b.get("HumanLoopActivationOutput") or {}),
                    "a HumanLoopArn",
                ),
            ),
        )
    if ctx.s3_ready:
        with step():
            h.call(
                "DetectModerationLabels",
                {"Image": ctx.s3_image("labels.jpg")},
                name="Image.S3Object",
                expect=_moderation_problems,
            )
    h.expect_error(
        "DetectModerationLabels",
        {
            "Image": {"Bytes": p.face},
            "ProjectVersion": f"arn:aws:rekognition:{h.region}:123456789012:project/c/version/v/1",
        },
        "ResourceNotFoundException",
        name="adapter (ProjectVersion) that does not exist",
    )
    image_errors(ctx, "DetectModerationLabels", {})


def _ppe_problems(body: dict[str, Any], people: int | None = None) -> list[str]:
    persons = body.get("Persons") or []
    problems = _problems(
        (bool(body.get("ProtectiveEquipmentModelVersion")), "no ProtectiveEquipmentModelVersion"),
        ([x.get("Id") for x in persons] == list(range(len(persons))), "Ids are not 0..n-1"),
        (len(persons) <= 15, f"{len(persons)} persons, AWS returns at most 15"),
    )
    if people is not None:
        problems += _problems(
            (abs(len(persons) - people) <= 1, f"{len(persons)} persons, {people} in the photo")
        )
    summary = body.get("Summary")
    if summary is not None:
        ids = sorted(
            summary.get("PersonsWithRequiredEquipment", [])
            + summary.get("PersonsWithoutRequiredEquipment", [])
            + summary.get("PersonsIndeterminate", [])
        )
        problems += _problems(
            (ids == [x.get("Id") for x in persons], "Summary does not list each person once")
        )
    return problems


def ppe_flow(ctx: Context) -> None:
    h, p = ctx.h, ctx.photos
    if not h.has("DetectProtectiveEquipment"):
        return
    with step():
        h.call(
            "DetectProtectiveEquipment",
            {"Image": {"Bytes": p.face}},
            name="portrait: one person, no Summary unless asked",
            expect=lambda b: (
                _ppe_problems(b, 1) + _problems(("Summary" not in b, "a Summary nobody asked for"))
            ),
        )
    with step():
        h.call(
            "DetectProtectiveEquipment",
            {
                "Image": {"Bytes": p.face},
                "SummarizationAttributes": {
                    "MinConfidence": 80,
                    "RequiredEquipmentTypes": ["FACE_COVER", "HEAD_COVER", "HAND_COVER"],
                },
            },
            name="SummarizationAttributes: all three types",
            expect=lambda b: (
                _ppe_problems(b, 1)
                + _problems(
                    (
                        0 not in (b.get("Summary") or {}).get("PersonsWithRequiredEquipment", [0]),
                        "a bare-headed, unmasked astronaut counted as wearing everything",
                    )
                )
            ),
        )
    if p.group is not None:
        with step():
            h.call(
                "DetectProtectiveEquipment",
                {"Image": {"Bytes": p.group}},
                name="group photo of 3",
                expect=lambda b: _ppe_problems(b, 3),
            )
    if ctx.s3_ready:
        with step():
            h.call(
                "DetectProtectiveEquipment",
                {"Image": ctx.s3_image("face.jpg")},
                name="Image.S3Object",
                expect=_ppe_problems,
            )
    image_errors(ctx, "DetectProtectiveEquipment", {})


CELEBRITY_FACE_MEMBERS = DEFAULT_FACE_MEMBERS | {"Emotions", "Smile"}


def seed_celebrity(ctx: Context) -> None:
    """Seed the emulator's gallery with the astronaut (its admin endpoint; another endpoint
    has none, and the named-celebrity checks are then left out)."""
    name = f"Conformance Astronaut {ctx.run_id}"
    body = json.dumps({"Name": name, "Photos": [base64.b64encode(ctx.photos.face).decode()]})
    request = urllib.request.Request(
        f"{ctx.h.endpoint}/_emulator/celebrities",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            ctx.celebrity = (json.loads(r.read())["Id"], name)
    except (OSError, ValueError, KeyError):
        ctx.celebrity = None


def forget_celebrity(ctx: Context) -> None:
    if ctx.celebrity is None:
        return
    request = urllib.request.Request(
        f"{ctx.h.endpoint}/_emulator/celebrities/{ctx.celebrity[0]}", method="DELETE"
    )
    try:
        urllib.request.urlopen(request, timeout=30).close()
    except OSError:
        pass  # best effort, as for the bucket


def _celebrity_problems(body: dict[str, Any], name: str | None) -> list[str]:
    found = body.get("CelebrityFaces") or []
    problems = []
    if name is not None:
        problems += _problems(
            ([c.get("Name") for c in found] == [name], f"expected {name} alone, got {found}")
        )
    for face in [c.get("Face") or {} for c in found] + list(body.get("UnrecognizedFaces") or []):
        problems += _problems(
            (set(face) == CELEBRITY_FACE_MEMBERS, f"a face with members {sorted(face)}"),
            (len(face.get("Landmarks", [])) == 5, "not the 5 default landmarks"),
        )
    return problems


def celebrities_flow(ctx: Context) -> None:
    h, p = ctx.h, ctx.photos
    if h.has("RecognizeCelebrities"):
        seed_celebrity(ctx)
        name = ctx.celebrity[1] if ctx.celebrity else None
        with step():
            h.call(
                "RecognizeCelebrities",
                {"Image": {"Bytes": p.face_other}},
                name="the seeded astronaut in another picture",
                expect=lambda b: _celebrity_problems(b, name),
            )
        with step():
            h.call(
                "RecognizeCelebrities",
                {"Image": {"Bytes": p.no_face}},
                name="no face: nothing recognized or unrecognized",
                expect=lambda b: _problems(
                    (not b.get("CelebrityFaces"), "a celebrity in a photo of a cup"),
                    (not b.get("UnrecognizedFaces"), "a face in a photo of a cup"),
                ),
            )
        if ctx.s3_ready:
            with step():
                h.call(
                    "RecognizeCelebrities",
                    {"Image": ctx.s3_image("face.jpg")},
                    name="Image.S3Object",
                    expect=lambda b: _celebrity_problems(b, name),
                )
        image_errors(ctx, "RecognizeCelebrities", {})
    if h.has("GetCelebrityInfo"):
        if ctx.celebrity is not None:
            cid, name = ctx.celebrity
            with step():
                h.call(
                    "GetCelebrityInfo",
                    {"Id": cid},
                    name="the seeded celebrity",
                    expect=lambda b: _problems((b.get("Name") == name, f"Name {b.get('Name')}")),
                )
        h.expect_error(
            "GetCelebrityInfo",
            {"Id": "0conformance0"},
            "ResourceNotFoundException",
            name="an id no celebrity has",
        )


MEDIA_ANALYSIS_STATUSES = ("CREATED", "QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED")


def start_media_job(ctx: Context, manifest_key: str, **extra: Any) -> dict[str, Any]:
    """StartMediaAnalysisJob's request over a manifest of the bucket's two photos."""
    lines = [
        json.dumps({"source-ref": f"s3://{ctx.bucket}/{k}"}) for k in ("face.jpg", "labels.jpg")
    ]
    ctx.h.s3.put_object(Bucket=ctx.bucket, Key=manifest_key, Body="\n".join(lines).encode())
    return {
        "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 50}},
        "Input": {"S3Object": {"Bucket": ctx.bucket, "Name": manifest_key}},
        "OutputConfig": {"S3Bucket": ctx.bucket, "S3KeyPrefix": "bulk"},
        **extra,
    }


def wait_media_job(ctx: Context, job_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = ctx.h.rekognition.get_media_analysis_job(JobId=job_id)
        if job["Status"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            return job
        time.sleep(0.25)


def _media_job_problems(body: dict[str, Any]) -> list[str]:
    return _problems(
        (body.get("Status") in MEDIA_ANALYSIS_STATUSES, f"Status {body.get('Status')}"),
        ("CreationTimestamp" in body, "no CreationTimestamp"),
    )


def media_analysis_flow(ctx: Context) -> None:
    h = ctx.h
    if not ctx.s3_ready:
        return
    job_id = ""
    if h.has("StartMediaAnalysisJob"):
        with step():
            body = h.call(
                "StartMediaAnalysisJob",
                start_media_job(ctx, "manifest.jsonl", JobName="conformance"),
                name="a manifest of two photos",
                expect=lambda b: _problems((bool(b.get("JobId")), "no JobId")),
            )
            job_id = body["JobId"]
        empty = f"s3://{ctx.bucket}/empty.jsonl"
        h.s3.put_object(Bucket=ctx.bucket, Key="empty.jsonl", Body=b"\n")
        h.expect_error(
            "StartMediaAnalysisJob",
            {
                **start_media_job(ctx, "m2.jsonl"),
                "Input": {"S3Object": {"Bucket": ctx.bucket, "Name": "empty.jsonl"}},
            },
            "InvalidManifestException",
            name=f"an empty manifest ({empty})",
        )
        h.expect_error(
            "StartMediaAnalysisJob",
            {
                **start_media_job(ctx, "m3.jsonl"),
                "Input": {"S3Object": {"Bucket": ctx.bucket, "Name": "missing.jsonl"}},
            },
            "InvalidS3ObjectException",
            name="a manifest that does not exist",
        )
    if job_id and h.has("GetMediaAnalysisJob"):
        wait_media_job(ctx, job_id)
        with step():
            h.call(
                "GetMediaAnalysisJob",
                {"JobId": job_id},
                name="the finished job",
                expect=lambda b: (
                    _media_job_problems(b)
                    + _problems(
                        (
                            b.get("Status") == "SUCCEEDED",
                            f"Status {b.get('Status')}: {b.get('FailureDetails')}",
                        ),
                        ("S3Object" in (b.get("Results") or {}), "no Results.S3Object"),
                        ("S3Object" in (b.get("ManifestSummary") or {}), "no ManifestSummary"),
                    )
                ),
            )
        ctx.media_job = job_id
    if h.has("GetMediaAnalysisJob"):
        h.expect_error(
            "GetMediaAnalysisJob",
            {"JobId": "no-such-media-job"},
            "ResourceNotFoundException",
            name="a job that does not exist",
        )
    if h.has("ListMediaAnalysisJobs"):
        with step():
            h.call(
                "ListMediaAnalysisJobs",
                {"MaxResults": 5},
                name="newest first",
                expect=lambda b: (
                    [p for j in b.get("MediaAnalysisJobs", []) for p in _media_job_problems(j)]
                    + _problems(
                        (
                            not job_id
                            or job_id in [j.get("JobId") for j in b.get("MediaAnalysisJobs", [])],
                            "the job just started is not listed",
                        )
                    )
                ),
            )
        h.expect_error(
            "ListMediaAnalysisJobs",
            {"NextToken": "not-a-token"},
            "InvalidPaginationTokenException",
            name="a NextToken this server did not issue",
        )


# -- Rekognition Video ----------------------------------------------------------------------------
# Each analysis: the Get* member that lists the results, and Start* parameters of its own.
VIDEO_ANALYSES: dict[str, tuple[str, dict[str, Any]]] = {
    "LabelDetection": ("Labels", {"MinConfidence": 50, "Features": ["GENERAL_LABELS"]}),
    "FaceDetection": ("Faces", {"FaceAttributes": "ALL"}),
    "TextDetection": ("TextDetections", {"Filters": {"WordFilter": {"MinConfidence": 80}}}),
    "PersonTracking": ("Persons", {}),
    "ContentModeration": ("ModerationLabels", {"MinConfidence": 50}),
    "FaceSearch": ("Persons", {"FaceMatchThreshold": 80}),
    "SegmentDetection": ("Segments", {"SegmentTypes": ["TECHNICAL_CUE", "SHOT"]}),
    "CelebrityRecognition": ("Celebrities", {}),
}
VIDEO_OPERATIONS = frozenset(f"{verb}{n}" for n in VIDEO_ANALYSES for verb in ("Start", "Get"))
JOB_ID_RE = re.compile(r"^[0-9a-f]{64}$")
VIDEO_WAIT_SECONDS = 180.0


def _upload_video(ctx: Context) -> None:
    """The suite's clip (made with PyAV), else the shared MOT20 clip, in the bucket."""
    with tempfile.TemporaryDirectory(prefix="conformance-video-") as tmp:
        path = conformance_clip(ctx.photos.face, Path(tmp))
        note = "video: a 2 s H.264 clip made with PyAV (caption, then the face photo)"
        if path is None:
            shared = testdata_dir()
            mot = shared / "video" / "dlib__MOT20-05-raw_even_shorter.mp4" if shared else None
            if mot is None or not mot.is_file():
                ctx.video_note = f"video: none ({pyav_missing()}; no shared MOT20 clip either)"
                return
            path, note = mot, "video: the shared MOT20 clip (PyAV is not installed)"
        ctx.h.s3.put_object(Bucket=ctx.bucket, Key="video.mp4", Body=path.read_bytes())
    ctx.video_key, ctx.video_note = "video.mp4", note


def video_channel(ctx: Context) -> dict[str, str]:
    """A NotificationChannel whose topic does not exist: the job must still succeed."""
    account = "123456789012"
    return {
        "SNSTopicArn": f"arn:aws:sns:{ctx.h.region}:{account}:{ctx.name('no-topic')}",
        "RoleArn": f"arn:aws:iam::{account}:role/{ctx.name('video-role')}",
    }


def wait_video_job(ctx: Context, get: str, job_id: str) -> str:
    """Poll a Get* (unrecorded) until the job is no longer IN_PROGRESS; its status."""
    deadline = time.monotonic() + VIDEO_WAIT_SECONDS
    while True:
        status = getattr(ctx.h.rekognition, xform_name(get))(JobId=job_id)["JobStatus"]
        if status != "IN_PROGRESS" or time.monotonic() > deadline:
            return status
        time.sleep(0.25)


def _video_start_problems(body: dict[str, Any]) -> list[str]:
    job_id = str(body.get("JobId", ""))
    return _problems((bool(JOB_ID_RE.match(job_id)), f"JobId {job_id!r} is not 64 hex digits"))


def _video_get_problems(
    body: dict[str, Any], job_id: str, items: str, metadata_list: bool
) -> list[str]:
    metadata = body.get("VideoMetadata")
    if metadata_list:
        metadata = (metadata or [None])[0]
    return _problems(
        (body.get("JobStatus") == "SUCCEEDED", f"JobStatus {body.get('JobStatus')}"),
        (body.get("JobId") == job_id, "the JobId is not echoed"),
        (isinstance(body.get(items), list), f"no {items} list"),
        (
            isinstance(metadata, dict) and metadata.get("Codec") == "h264",
            f"VideoMetadata {metadata!r} does not name the h264 codec",
        ),
        (bool(body.get("Video", {}).get("S3Object")), "the Video is not echoed"),
    )


def video_flow(ctx: Context) -> None:
    h = ctx.h
    names = [n for n in VIDEO_ANALYSES if h.has(f"Start{n}", f"Get{n}")]
    for name in names:
        h.expect_error(
            f"Get{name}", {"JobId": "0" * 64}, "ResourceNotFoundException", name="unknown JobId"
        )
    if not names or not ctx.s3_ready:
        return
    for name in names:
        extra = VIDEO_ANALYSES[name][1]
        for case, s3_object in (
            ("missing object", {"Bucket": ctx.bucket, "Name": "no-such-video.mp4"}),
            ("missing bucket", {"Bucket": ctx.name("no-such-bucket"), "Name": "video.mp4"}),
        ):
            params = {"Video": {"S3Object": s3_object}, **extra}
            if name == "FaceSearch":  # the video is checked first
                params["CollectionId"] = ctx.name("video-missing")
            h.expect_error(
                f"Start{name}", params, "InvalidS3ObjectException", name=f"Video.S3Object {case}"
            )
    if not ctx.video_key:
        return
    if "FaceSearch" in names:
        h.expect_error(
            "StartFaceSearch",
            {"Video": ctx.s3_image(ctx.video_key), "CollectionId": ctx.name("video-missing")},
            "ResourceNotFoundException",
            name="collection does not exist",
        )
        if h.has("CreateCollection", "IndexFaces"):
            with step():
                ctx.video_collection = ctx.name("video-faces")
                h.call("CreateCollection", {"CollectionId": ctx.video_collection}, name="for video")
                h.call(
                    "IndexFaces",
                    {"CollectionId": ctx.video_collection, "Image": {"Bytes": ctx.photos.face}},
                    name="a face to search videos for",
                )
        if not ctx.video_collection:
            names.remove("FaceSearch")
    for name in names:  # the collection stays for the CLI and JS runners (teardown_s3 ends it)
        with step():
            _video_analysis(ctx, name)


def video_start_params(ctx: Context, name: str) -> dict[str, Any]:
    """The Start* request of the analysis `name` in this run (the CLI and the JS SDK send it
    again: with its ClientRequestToken, it names the same job)."""
    params: dict[str, Any] = {
        "Video": ctx.s3_image(ctx.video_key),
        "ClientRequestToken": ctx.name(name)[:64],
        "JobTag": f"conformance-{name}",
        "NotificationChannel": video_channel(ctx),
        **VIDEO_ANALYSES[name][1],
    }
    if name == "FaceSearch":
        params["CollectionId"] = ctx.video_collection
    return params


def _video_analysis(ctx: Context, name: str) -> None:
    h = ctx.h
    items = VIDEO_ANALYSES[name][0]
    start, get = f"Start{name}", f"Get{name}"
    params = video_start_params(ctx, name)
    job_id = h.call(start, params, name="the clip, every option", expect=_video_start_problems)[
        "JobId"
    ]
    h.call(
        start,
        params,
        name="the same ClientRequestToken again -> the same job",
        expect=lambda b: _problems((b.get("JobId") == job_id, "a second job was started")),
    )
    h.expect_error(
        start,
        {**params, "JobTag": "conformance-changed"},
        "IdempotentParameterMismatchException",
        name="the same ClientRequestToken, other parameters",
    )
    wait_video_job(ctx, get, job_id)
    as_list = name == "SegmentDetection"
    first = h.call(
        get,
        {"JobId": job_id},
        name="a finished job (its topic did not exist)",
        expect=lambda b: _video_get_problems(b, job_id, items, as_list),
    )
    ctx.video_jobs[name] = job_id
    page = h.call(
        get,
        {"JobId": job_id, "MaxResults": 1},
        name="MaxResults 1",
        expect=lambda b: _problems((len(b.get(items, [])) <= 1, f"more than one of {items}")),
    )
    if page.get("NextToken"):
        h.call(
            get, {"JobId": job_id, "MaxResults": 1, "NextToken": page["NextToken"]}, name="page 2"
        )
    else:
        h.record(
            Check(
                get,
                "boto3",
                "call",
                "MaxResults 1: no NextToken on the last page",
                len(first.get(items, [])) <= 1,
                "" if len(first.get(items, [])) <= 1 else "NextToken absent with more to read",
            )
        )
    h.expect_error(
        get,
        {"JobId": job_id, "NextToken": "bm90LWEtdG9rZW4"},
        "InvalidPaginationTokenException",
        name="NextToken not issued by the server",
    )
    members = h.model.operation_model(get).input_shape.members
    for option in ("SortBy", "AggregateBy"):
        if option in members:
            for value in members[option].enum:
                h.call(get, {"JobId": job_id, option: value}, name=f"{option} {value}")


# -- stream processors and Face Liveness -----------------------------------------------------------
STREAM_OPERATIONS = frozenset(
    {
        "CreateStreamProcessor",
        "DescribeStreamProcessor",
        "ListStreamProcessors",
        "StartStreamProcessor",
        "StopStreamProcessor",
        "UpdateStreamProcessor",
        "DeleteStreamProcessor",
    }
)
LIVENESS_OPERATIONS = frozenset({"CreateFaceLivenessSession", "GetFaceLivenessSessionResults"})
ACCOUNT = "123456789012"  # the account of a non-numeric access key


def _admin(ctx: Context, path: str, body: Any) -> tuple[int, Any]:
    """A call to the emulator's own /_emulator/ endpoints (what the test says a stream plays,
    or a liveness check's video): (status, JSON body)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        ctx.h.endpoint + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)


def _until(check: Callable[[], Any], seconds: float = 60.0) -> Any:
    import time

    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _status_is(*wanted: str) -> Callable[[dict[str, Any]], list[str]]:
    return lambda b: _problems((b.get("Status") in wanted, f"Status {b.get('Status')}"))


def _face_search_session(ctx: Context, name: str, kvs: str, output: str, cid: str) -> None:
    """A face search processor on a clip of the indexed face: records on Kinesis name it."""
    from rekognition_emulator.conformance.images import face_clip

    h = ctx.h
    h.s3.put_object(Bucket=ctx.bucket, Key="face.mp4", Body=face_clip(ctx.photos.face))
    code, mapped = _admin(
        ctx,
        "/_emulator/streams",
        {"StreamArn": kvs, "Video": {"S3Object": {"Bucket": ctx.bucket, "Name": "face.mp4"}}},
    )
    face_id = h.rekognition.index_faces(CollectionId=cid, Image={"Bytes": ctx.photos.face})[
        "FaceRecords"
    ][0]["Face"]["FaceId"]
    h.call(
        "StartStreamProcessor",
        {"Name": name},
        name="face search -> SessionId",
        expect=lambda b: _problems(
            (bool(UUID_RE.fullmatch(str(b.get("SessionId")))), f"SessionId {b.get('SessionId')}"),
            (code == 200, f"the stream could not be mapped: {mapped}"),
        ),
    )
    running = _until(
        lambda: (
            h.rekognition.describe_stream_processor(Name=name)["Status"] in ("RUNNING", "FAILED")
        )
    )
    kinesis = boto3_client(ctx, "kinesis")
    stream = output.rsplit("/", 1)[1]

    def matched() -> bool:
        shard = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        import json

        for record in kinesis.get_records(ShardIterator=iterator)["Records"]:
            for found in json.loads(record["Data"])["FaceSearchResponse"]:
                if any(m["Face"]["FaceId"] == face_id for m in found["MatchedFaces"]):
                    return True
        return False

    found = running and _until(matched, 30)
    h.call(
        "DescribeStreamProcessor",
        {"Name": name},
        name="RUNNING, its Kinesis records naming the indexed face",
        expect=lambda b: (
            _status_is("RUNNING")(b)
            + _problems((bool(found), "no Kinesis record matched the indexed FaceId"))
        ),
    )
    h.expect_error(
        "StartStreamProcessor", {"Name": name}, "ResourceInUseException", name="already running"
    )
    h.expect_error(
        "DeleteStreamProcessor", {"Name": name}, "ResourceInUseException", name="while running"
    )
    h.call("StopStreamProcessor", {"Name": name}, name="a running processor")
    _until(lambda: h.rekognition.describe_stream_processor(Name=name)["Status"] == "STOPPED", 30)


def boto3_client(ctx: Context, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=ctx.h.endpoint,
        region_name=ctx.h.region,
        aws_access_key_id=ctx.h.access_key,
        aws_secret_access_key=ctx.h.secret_key,
    )


def streams_flow(ctx: Context) -> None:
    h = ctx.h
    if not h.has(*STREAM_OPERATIONS):
        return
    role = f"arn:aws:iam::{ACCOUNT}:role/conformance"
    kvs = f"arn:aws:kinesisvideo:{h.region}:{ACCOUNT}:stream/{ctx.name('cam')}/1700000000000"
    name = ctx.name("faces")
    with step():
        kinesis = boto3_client(ctx, "kinesis")
        kinesis.create_stream(StreamName=ctx.name("records"), ShardCount=1)
        output = kinesis.describe_stream(StreamName=ctx.name("records"))["StreamDescription"][
            "StreamARN"
        ]
        cid = ctx.name("stream-faces")
        h.rekognition.create_collection(CollectionId=cid)
        h.call(
            "CreateStreamProcessor",
            {
                "Name": name,
                "Input": {"KinesisVideoStream": {"Arn": kvs}},
                "Output": {"KinesisDataStream": {"Arn": output}},
                "Settings": {"FaceSearch": {"CollectionId": cid, "FaceMatchThreshold": 85.0}},
                "RoleArn": role,
            },
            name="face search",
            expect=lambda b: _problems(
                (
                    b.get("StreamProcessorArn")
                    == f"arn:aws:rekognition:{h.region}:{ACCOUNT}:streamprocessor/{name}",
                    f"StreamProcessorArn {b.get('StreamProcessorArn')}",
                )
            ),
        )
        h.call(
            "DescribeStreamProcessor",
            {"Name": name},
            name="new processor: STOPPED, settings echoed",
            expect=lambda b: (
                _status_is("STOPPED")(b)
                + _problems(
                    (
                        b.get("Settings", {}).get("FaceSearch", {}).get("CollectionId") == cid,
                        "Settings",
                    ),
                    (b.get("Input", {}).get("KinesisVideoStream", {}).get("Arn") == kvs, "Input"),
                )
            ),
        )
        h.call(
            "ListStreamProcessors",
            {},
            name="lists the processor",
            expect=lambda b: _problems(
                (
                    {"Name": name, "Status": "STOPPED"} in b.get("StreamProcessors", []),
                    "the processor is not listed as STOPPED",
                )
            ),
        )
        h.expect_error(
            "StopStreamProcessor", {"Name": name}, "ResourceInUseException", name="not running"
        )
        h.expect_error(
            "UpdateStreamProcessor",
            {"Name": name, "DataSharingPreferenceForUpdate": {"OptIn": True}},
            "InvalidParameterException",
            name="a face search processor",
        )
        if ctx.s3_ready:
            _face_search_session(ctx, name, kvs, output, cid)
        h.call("DeleteStreamProcessor", {"Name": name}, name="a stopped processor")
        h.expect_error(
            "DescribeStreamProcessor",
            {"Name": name},
            "ResourceNotFoundException",
            name="deleted processor",
        )
        h.rekognition.delete_collection(CollectionId=cid)
    home = ctx.name("porch")
    with step():
        polygon = [{"X": 0.1, "Y": 0.2}, {"X": 0.9, "Y": 0.2}, {"X": 0.5, "Y": 0.9}]
        h.call(
            "CreateStreamProcessor",
            {
                "Name": home,
                "Input": {"KinesisVideoStream": {"Arn": kvs}},
                "Output": {
                    "S3Destination": {"Bucket": ctx.bucket or "bucket", "KeyPrefix": "porch"}
                },
                "NotificationChannel": {"SNSTopicArn": f"arn:aws:sns:{h.region}:{ACCOUNT}:porch"},
                "Settings": {"ConnectedHome": {"Labels": ["PERSON", "PET"], "MinConfidence": 60}},
                "RegionsOfInterest": [{"Polygon": polygon}],
                "DataSharingPreference": {"OptIn": False},
                "RoleArn": role,
            },
            name="label detection (connected home) with a polygon region",
        )
        h.expect_error(
            "StartStreamProcessor",
            {"Name": home},
            "InvalidParameterException",
            name="label detection without a StartSelector",
        )
        h.call(
            "UpdateStreamProcessor",
            {
                "Name": home,
                "SettingsForUpdate": {"ConnectedHomeForUpdate": {"MinConfidence": 80}},
                "ParametersToDelete": ["RegionsOfInterest"],
            },
            name="MinConfidence set, regions deleted",
        )
        h.call(
            "DescribeStreamProcessor",
            {"Name": home},
            name="after UpdateStreamProcessor",
            expect=lambda b: (
                _status_is("STOPPED")(b)
                + _problems(
                    (b["Settings"]["ConnectedHome"].get("MinConfidence") == 80, "MinConfidence"),
                    ("RegionsOfInterest" not in b, "RegionsOfInterest still there"),
                )
            ),
        )
        h.call("DeleteStreamProcessor", {"Name": home}, name="label detection processor")
    h.expect_error(
        "CreateStreamProcessor",
        {
            "Name": ctx.name("both"),
            "Input": {"KinesisVideoStream": {"Arn": kvs}},
            "Output": {"S3Destination": {"Bucket": "bucket"}},
            "Settings": {"FaceSearch": {"CollectionId": "c"}, "ConnectedHome": {"Labels": ["ALL"]}},
            "RoleArn": role,
        },
        "InvalidParameterException",
        name="FaceSearch and ConnectedHome at once",
    )
    h.expect_error(
        "ListStreamProcessors",
        {"NextToken": "forged"},
        "InvalidPaginationTokenException",
        name="a NextToken this server did not issue",
    )
    h.expect_error(
        "DeleteStreamProcessor",
        {"Name": ctx.name("never")},
        "ResourceNotFoundException",
        name="processor does not exist",
    )


def liveness_flow(ctx: Context) -> None:
    import base64
    import uuid

    from rekognition_emulator.conformance.images import jpeg_frames, zoom_frames

    h = ctx.h
    if not h.has(*LIVENESS_OPERATIONS):
        return
    with step():
        created = h.call(
            "CreateFaceLivenessSession",
            {
                "Settings": {
                    "AuditImagesLimit": 1,
                    "ChallengePreferences": [{"Type": "FaceMovementAndLightChallenge"}],
                },
                "ClientRequestToken": ctx.name("liveness"),
            },
            name="AuditImagesLimit 1, a challenge preference",
            expect=lambda b: _problems(
                (
                    bool(UUID_RE.fullmatch(str(b.get("SessionId")))),
                    f"SessionId {b.get('SessionId')}",
                )
            ),
        )
        session = created["SessionId"]
        h.call(
            "GetFaceLivenessSessionResults",
            {"SessionId": session},
            name="a new session: CREATED",
            expect=_status_is("CREATED"),
        )
        frames = [base64.b64encode(f).decode() for f in jpeg_frames(zoom_frames(ctx.photos.face))]
        code, checked = _admin(ctx, f"/_emulator/liveness/{session}", {"frames": frames})
        h.call(
            "GetFaceLivenessSessionResults",
            {"SessionId": session},
            name="after a selfie video: SUCCEEDED with images",
            expect=lambda b: (
                _status_is("SUCCEEDED")(b)
                + _problems(
                    (code == 200, f"the check could not be submitted: {checked}"),
                    (isinstance(b.get("Confidence"), int | float), "no Confidence"),
                    ("Bytes" in b.get("ReferenceImage", {}), "no ReferenceImage.Bytes"),
                    (len(b.get("AuditImages", [])) == 1, "not one audit image"),
                    (
                        b.get("Challenge", {}).get("Type") == "FaceMovementAndLightChallenge",
                        "Challenge",
                    ),
                )
            ),
        )
    h.expect_error(
        "GetFaceLivenessSessionResults",
        {"SessionId": str(uuid.uuid4())},
        "SessionNotFoundException",
        name="a session that was never created",
    )
    h.expect_error(
        "CreateFaceLivenessSession",
        {
            "Settings": {
                "ChallengePreferences": [
                    {"Type": "FaceMovementChallenge", "Versions": {"Minimum": "9.0.0"}}
                ]
            }
        },
        "InvalidParameterException",
        name="a challenge version no one offers",
    )


FLOWS: dict[str, tuple[Callable[[Context], None], frozenset[str]]] = {
    "faces": (faces_flow, frozenset({"DetectFaces", "CompareFaces"})),
    "collections": (
        collections_flow,
        frozenset(
            {
                "CreateCollection",
                "DeleteCollection",
                "DescribeCollection",
                "ListCollections",
                "IndexFaces",
                "ListFaces",
                "DeleteFaces",
                "SearchFaces",
                "SearchFacesByImage",
                "CreateUser",
                "DeleteUser",
                "ListUsers",
                "AssociateFaces",
                "DisassociateFaces",
                "SearchUsers",
                "SearchUsersByImage",
                "TagResource",
                "UntagResource",
                "ListTagsForResource",
            }
        ),
    ),
    "labels": (labels_flow, frozenset({"DetectLabels", "DetectText"})),
    "moderation": (moderation_flow, frozenset({"DetectModerationLabels"})),
    "ppe": (ppe_flow, frozenset({"DetectProtectiveEquipment"})),
    "video": (video_flow, VIDEO_OPERATIONS),
    "custom-labels": (custom_labels.custom_labels_flow, custom_labels.OPERATIONS),
    "streams": (streams_flow, STREAM_OPERATIONS),
    "liveness": (liveness_flow, LIVENESS_OPERATIONS),
    "celebrities": (celebrities_flow, frozenset({"RecognizeCelebrities", "GetCelebrityInfo"})),
    "media-analysis": (
        media_analysis_flow,
        frozenset({"StartMediaAnalysisJob", "GetMediaAnalysisJob", "ListMediaAnalysisJobs"}),
    ),
}


def covered_by_flows() -> frozenset[str]:
    out: set[str] = set()
    for _, ops in FLOWS.values():
        out |= ops
    return frozenset(out)


def generic_seed(ctx: Context, operation: str) -> dict[str, Any] | None:
    """A valid-looking request to derive violations from, where the model alone falls short."""
    if operation in IMAGE_MEMBERS:
        op = ctx.h.model.operation_model(operation)
        seed = minimal_input(op.input_shape, ctx.photos.face)
        for member in IMAGE_MEMBERS[operation]:
            seed[member] = {"Bytes": ctx.photos.face}
        return seed
    return None
