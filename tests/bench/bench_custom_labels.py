"""Custom Labels training on the shared photos: accuracy, mAP and training time.

    .venv/bin/python tests/bench/bench_custom_labels.py          # about two minutes

Needs ../shared/testdata (or $REKOGNITION_TESTDATA). Three measurements, each through
`models.custom.training` (the code CreateProjectVersion runs, without S3 and HTTP):

1. Classification, held-out accuracy: the five people of faces/identities/John_* (11
   photos each, all distinct): 8 train / 3 test per person, and 4-fold cross-validation
   (every photo held out once). A second set, "scenes", sorts whole photos into person /
   group / animal (19 / 12 / 8 photos; derived copies of one photo are left out, so no
   test photo has a twin in training).
2. Detection, mAP@0.5: the label "face" on the nine PASCAL VOC photos of faces/groups with
   annotated boxes (dlib's split: 4 training photos / 18 faces, 5 testing / 25 faces), and
   the split swapped.
3. Training time for 100 images on the machine's cores: 100 classification images (the
   identity photos and their mirrored, cropped variants) and 100 detection images (the VOC
   photos, mirrored and cropped, boxes moved with them), end to end from decoded pixels:
   features, fitting, and the evaluation on 20 test images. And the time a trained
   detector takes on one photo (what DetectCustomLabels adds to decoding).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from rekognition_emulator.models.custom import training
from rekognition_emulator.models.custom.features import default_extractor

REPO = Path(__file__).resolve().parents[2]


def testdata() -> Path:
    for candidate in (os.environ.get("REKOGNITION_TESTDATA"), REPO.parent / "shared" / "testdata"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    sys.exit("../shared/testdata is absent (set REKOGNITION_TESTDATA)")


def read(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def manifest_rows(root: Path) -> list[tuple[str, dict[str, str]]]:
    rows = []
    for line in (root / "MANIFEST.tsv").read_text().splitlines()[1:]:
        cols = line.split("\t")
        facts = dict(kv.split("=", 1) for kv in cols[5].split("; ") if "=" in kv)
        rows.append((cols[0], facts))
    return rows


# --- classification -------------------------------------------------------------------------


def identities(root: Path) -> dict[str, list[Path]]:
    people = sorted(p for p in (root / "faces" / "identities").glob("John_*") if p.is_dir())
    return {p.name: sorted(p.iterdir()) for p in people}


def scenes(root: Path) -> dict[str, list[Path]]:
    derived = ("32bit", "partial_face")  # re-saves and crops of other photos in the set
    portraits = [
        p
        for p in sorted((root / "faces" / "identities").glob("*/face_recognition__*"))
        if not any(d in p.name for d in derived)
    ] + [root / "objects" / "skimage__astronaut.png"]
    coco = [f"objects/coco8/0000000000{n}.jpg" for n in ("25", "34", "42", "49", "61")]
    animals = [root / p for p in coco] + [
        root / "objects" / n
        for n in ("skimage__chelsea.png", "darknet__dog.jpg", "darknet__person.jpg")  # fmt: skip
    ]
    return {
        "person": portraits,
        "group": sorted((root / "faces" / "groups").iterdir()),
        "animal": animals,
    }


def accuracy(extractor, train, test, labels) -> tuple[float, training.Result]:
    result = training.train_classifier(extractor, train, test, labels)
    predicted = [labels[int(row.argmax())] for row in result.test_scores]
    right = sum(p in t.labels for p, t in zip(predicted, test, strict=True))
    return right / len(test), result


def classification(extractor, classes: dict[str, list[Path]], name: str) -> dict:
    labels = list(classes)
    images = {c: [read(p) for p in paths] for c, paths in classes.items()}
    held = {c: max(1, round(len(v) * 3 / 11)) for c, v in images.items()}
    train = [training.LabelledImage(im, {c}) for c, v in images.items() for im in v[: -held[c]]]
    test = [training.LabelledImage(im, {c}) for c, v in images.items() for im in v[-held[c] :]]
    fixed, result = accuracy(extractor, train, test, labels)
    right = total = 0
    for fold in range(4):
        tr = [training.LabelledImage(im, {c}) for c, v in images.items() for i, im in enumerate(v) if i % 4 != fold]  # fmt: skip
        te = [training.LabelledImage(im, {c}) for c, v in images.items() for i, im in enumerate(v) if i % 4 == fold]  # fmt: skip
        acc, _ = accuracy(extractor, tr, te, labels)
        right += round(acc * len(te))
        total += len(te)
    out = {
        "set": name,
        "classes": {c: len(v) for c, v in images.items()},
        "held_out": len(test),
        "held_out_accuracy": round(fixed, 3),
        "held_out_f1": round(result.evaluation.f1, 3),
        "cv4_accuracy": round(right / total, 3),
        "cv4_images": total,
    }
    print(json.dumps(out), flush=True)
    return out


# --- detection ------------------------------------------------------------------------------


def voc_faces(root: Path) -> tuple[list[training.BoxedImage], list[training.BoxedImage]]:
    train, test = [], []
    for path, facts in manifest_rows(root):
        if "boxes_xywh_px" not in facts:
            continue
        boxes = []
        for box in facts["boxes_xywh_px"].split("|"):
            x, y, w, h = (float(v) for v in box.split(","))
            boxes.append((x, y, x + w, y + h))
        image = training.BoxedImage(read(root / path), boxes, ["face"] * len(boxes))
        (train if "training.xml" in facts.get("annotation", "") else test).append(image)
    return train, test


def detection(extractor, train, test, name: str) -> dict:
    result = training.train_detector(extractor, train, test, ["face"])
    (label,) = result.evaluation.labels
    start = time.perf_counter()
    for image in test:  # what DetectCustomLabels spends on the model, per photo
        result.model.predict(extractor, image.rgb)
    per_photo = (time.perf_counter() - start) / len(test)
    out = {
        "set": name,
        "train_images": len(train),
        "train_boxes": sum(len(t.boxes) for t in train),
        "test_images": len(test),
        "test_boxes": sum(len(t.boxes) for t in test),
        "mAP50": round(result.evaluation.average_precision or 0.0, 3),
        "AR": round(result.evaluation.average_recall or 0.0, 3),
        "F1_at_threshold": round(label.f1, 3),
        "threshold": round(label.threshold, 3),
        "seconds": round(result.seconds, 1),
        "detect_ms_per_photo": round(per_photo * 1000),
    }
    print(json.dumps(out), flush=True)
    return out


# --- training time --------------------------------------------------------------------------


def variants(rgb: np.ndarray, n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, tuple]]:
    """`n` views of a photo: mirrored or not, cropped to 75-100 % of each side; with the
    crop (x0, y0, mirrored) so boxes can follow."""
    h, w = rgb.shape[:2]
    out = []
    for _ in range(n):
        ch, cw = int(h * rng.uniform(0.75, 1.0)), int(w * rng.uniform(0.75, 1.0))
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = rgb[y0 : y0 + ch, x0 : x0 + cw]
        mirrored = bool(rng.random() < 0.5)
        out.append((np.ascontiguousarray(crop[:, ::-1] if mirrored else crop), (x0, y0, cw, ch, mirrored)))  # fmt: skip
    return out


def moved(image: training.BoxedImage, view: np.ndarray, crop: tuple) -> training.BoxedImage:
    x0, y0, cw, ch, mirrored = crop
    boxes, labels = [], []
    for (a, b, c, d), label in zip(image.boxes, image.labels, strict=True):
        a, c = max(a - x0, 0), min(c - x0, cw)
        b, d = max(b - y0, 0), min(d - y0, ch)
        if c - a > 8 and d - b > 8:
            boxes.append((cw - c, b, cw - a, d) if mirrored else (a, b, c, d))
            labels.append(label)
    return training.BoxedImage(view, boxes, labels)


def timing(extractor, root: Path) -> dict:
    rng = np.random.default_rng(0)
    people = identities(root)
    pool = [(im, {c}) for c, paths in people.items() for im in map(read, paths)]
    cls_train = [training.LabelledImage(v, t) for im, t in pool for v, _ in variants(im, 2, rng)][:100]  # fmt: skip
    cls_test = [training.LabelledImage(v, t) for im, t in pool[::3] for v, _ in variants(im, 1, rng)][:20]  # fmt: skip
    start = time.perf_counter()
    training.train_classifier(extractor, cls_train, cls_test, list(people))
    cls_seconds = time.perf_counter() - start

    tr, te = voc_faces(root)
    det = [moved(a, v, c) for a in tr + te for v, c in variants(a.rgb, 12, rng)]
    det = [d for d in det if d.boxes]
    start = time.perf_counter()
    training.train_detector(extractor, det[:100], det[100:120], ["face"])
    det_seconds = time.perf_counter() - start
    out = {
        "cores": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "classification_100_images_s": round(cls_seconds, 1),
        "detection_100_images_s": round(det_seconds, 1),
    }
    print(json.dumps(out), flush=True)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    root = testdata()
    extractor = default_extractor()
    extractor.pooled([np.zeros((224, 224, 3), np.uint8)])  # load the model outside the timings
    figures = {
        "classification": [
            classification(extractor, identities(root), "identities"),
            classification(extractor, scenes(root), "scenes"),
        ],
    }
    tr, te = voc_faces(root)
    figures["detection"] = [
        detection(extractor, tr, te, "voc-faces"),
        detection(extractor, te, tr, "voc-faces-swapped"),
    ]
    figures["training_time"] = timing(extractor, root)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
