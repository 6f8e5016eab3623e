"""Smoke test of a running emulator (e.g. the Docker image) through boto3, from outside.

    python docker/smoke.py --endpoint http://127.0.0.1:4590

Runs CreateCollection, IndexFaces and SearchFacesByImage with a scikit-image photo, and
DetectFaces with Attributes=["ALL"]. Exits 0 only when every call answered a real result;
an operation that answers NotImplementedException fails the smoke loudly, by name.
Needs boto3, numpy, Pillow and scikit-image (the project's test extra).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import urllib.request
from typing import Any

import boto3
import numpy as np
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image
from skimage import data as skdata

# Members a DetectFaces answer with Attributes=["ALL"] carries for each face (service model).
ALL_MEMBERS = (
    "BoundingBox",
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
    "Landmarks",
    "Pose",
    "Quality",
    "Confidence",
    "FaceOccluded",
    "EyeDirection",
)


class SmokeFailure(Exception):
    pass


def jpeg(pixels: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def call(client: Any, operation: str, **params: Any) -> dict:
    """Call one operation; turn every error into a SmokeFailure naming the operation."""
    method = getattr(client, xform_name(operation))
    started = time.monotonic()
    try:
        answer = method(**params)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "?"), err.get("Message", "")
        if "NotImplemented" in code:
            raise SmokeFailure(
                f"{operation} is NOT IMPLEMENTED by the emulator ({code}: {message})"
            ) from exc
        raise SmokeFailure(f"{operation} failed with {code}: {message}") from exc
    except Exception as exc:  # connection refused, timeout, ...
        raise SmokeFailure(f"{operation} failed: {type(exc).__name__}: {exc}") from exc
    took = time.monotonic() - started
    answer.pop("ResponseMetadata", None)
    print(f"  {operation}: ok in {took:.2f} s", flush=True)
    return answer


def check(condition: bool, what: str, answer: Any = None) -> None:
    if not condition:
        detail = "" if answer is None else "\n    answer: " + json.dumps(answer, default=str)[:1500]
        raise SmokeFailure(what + detail)


def health(endpoint: str) -> dict:
    with urllib.request.urlopen(endpoint.rstrip("/") + "/_emulator/health", timeout=10) as r:
        return json.loads(r.read().decode())


def run(endpoint: str, region: str) -> None:
    client = boto3.client(
        "rekognition",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="AKIAEMULATORSMOKE000",
        aws_secret_access_key="smoke-secret",
        # One attempt, generous read timeout: the first inference may load the models.
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=300),
    )

    astronaut = skdata.astronaut()  # 512x512 RGB, one face
    indexed_bytes = jpeg(astronaut)
    # Search with a different rendering of the same person: a crop around the upper body,
    # scaled down, flipped left-right and stored as PNG, so the bytes share nothing.
    crop = astronaut[0:360, 60:420]
    small = np.asarray(Image.fromarray(crop).resize((300, 300), Image.BICUBIC))
    search_bytes = png(small[:, ::-1].copy())

    collection = f"docker-smoke-{os.getpid()}-{int(time.time())}"
    print(f"endpoint {endpoint}, region {region}, collection {collection}", flush=True)

    created = call(client, "CreateCollection", CollectionId=collection)
    check(created.get("StatusCode") == 200, "CreateCollection: StatusCode is not 200", created)
    check("CollectionArn" in created, "CreateCollection: no CollectionArn", created)

    try:
        indexed = call(
            client,
            "IndexFaces",
            CollectionId=collection,
            Image={"Bytes": indexed_bytes},
            ExternalImageId="astronaut",
            MaxFaces=1,
            QualityFilter="AUTO",
            DetectionAttributes=["DEFAULT"],
        )
        records = indexed.get("FaceRecords") or []
        check(len(records) == 1, "IndexFaces: expected 1 face record for the astronaut", indexed)
        face = records[0].get("Face", {})
        face_id = face.get("FaceId")
        check(bool(face_id), "IndexFaces: the face record has no FaceId", indexed)
        check(
            face.get("ExternalImageId") == "astronaut", "IndexFaces: ExternalImageId lost", indexed
        )
        print(f"    indexed FaceId {face_id}")

        found = call(
            client,
            "SearchFacesByImage",
            CollectionId=collection,
            Image={"Bytes": search_bytes},
            MaxFaces=5,
            FaceMatchThreshold=70,
        )
        check(
            "SearchedFaceBoundingBox" in found,
            "SearchFacesByImage: no SearchedFaceBoundingBox",
            found,
        )
        matches = found.get("FaceMatches") or []
        check(bool(matches), "SearchFacesByImage: the same person was not found", found)
        best = matches[0]
        check(
            best.get("Face", {}).get("FaceId") == face_id,
            "SearchFacesByImage: best match is not the indexed face",
            found,
        )
        print(f"    best match {face_id} similarity {best.get('Similarity'):.2f}")
    finally:
        try:
            client.delete_collection(CollectionId=collection)
        except Exception as exc:  # clean-up only; not part of what the smoke asserts
            print(f"  (DeleteCollection for clean-up failed: {exc})")

    detected = call(client, "DetectFaces", Image={"Bytes": indexed_bytes}, Attributes=["ALL"])
    details = detected.get("FaceDetails") or []
    check(len(details) >= 1, "DetectFaces: no face found on the astronaut", detected)
    missing = [m for m in ALL_MEMBERS if m not in details[0]]
    check(not missing, f"DetectFaces ALL: members missing from FaceDetail: {missing}", details[0])
    d = details[0]
    check(len(d.get("Landmarks") or []) >= 5, "DetectFaces ALL: fewer than 5 landmarks", d)
    check(len(d.get("Emotions") or []) >= 1, "DetectFaces ALL: no emotions", d)
    age = d["AgeRange"]
    print(
        f"    face box {d['BoundingBox']}, age {age.get('Low')}-{age.get('High')}, "
        f"gender {d['Gender'].get('Value')}, top emotion "
        f"{max(d['Emotions'], key=lambda e: e.get('Confidence', 0)).get('Type')}, "
        f"{len(d['Landmarks'])} landmarks"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("REKOGNITION_ENDPOINT", "http://127.0.0.1:4590"),
        help="emulator URL (default: $REKOGNITION_ENDPOINT or http://127.0.0.1:4590)",
    )
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()
    try:
        h = health(args.endpoint)
        print("health: " + json.dumps(h, default=str)[:400], flush=True)
        run(args.endpoint, args.region)
    except SmokeFailure as exc:
        print(f"SMOKE FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:
        print(f"SMOKE FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    print("smoke passed: CreateCollection, IndexFaces, SearchFacesByImage, DetectFaces ALL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
