"""DetectLabels against the shared photos' ground truth: what it names and where it finds people.

    .venv/bin/python scripts/label_recall.py [--classifier efficientnet_lite2]

- COCO8 (8 photos, 12 annotated classes, 15 photo-class pairs): each annotated class counts as
  found when its label (handlers/data/coco_labels.tsv) is answered at the default
  MinConfidence (55); "false" counts the answered labels of COCO classes the photo does not
  hold (e.g. Cat on a dog).
- the shared object photos (objects/*.jpg|png): their MANIFEST `labels=` (human words, e.g.
  "Truck(pickup/car)" counts as Truck), found when answered at 55.
- people: Person instances against COCO8's 10 annotated people, recall at IoU 0.5, on the
  photos as they are and on perturbed copies the constants were not tuned on (a JPEG
  re-encode at quality 95, a 0.8x rescale, a 5 % crop of each side, a mirror image).
tests/test_labels.py asserts the same figures.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import groundtruth as gt  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def coco_labels() -> dict[str, str]:
    with open(REPO / "handlers" / "data" / "coco_labels.tsv", encoding="utf-8") as f:
        return {r["coco_name"]: r["label"] for r in csv.DictReader(f, delimiter="\t")}


def coco8(root: Path):
    """(photo path, [(class name, (x0, y0, x1, y1) as ratios)]) for each COCO8 photo."""
    folder = root / "objects" / "coco8"
    names = [
        line.split("\t")[1].strip() for line in (folder / "classes.txt").read_text().splitlines()
    ]
    for jpg in sorted(folder.glob("*.jpg")):
        boxes = []
        for line in jpg.with_suffix(".txt").read_text().split("\n"):
            if line.strip():
                c, cx, cy, bw, bh = (float(v) for v in line.split())
                boxes.append((names[int(c)], (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)))
        yield jpg, boxes


def perturbations(rgb: np.ndarray, boxes):
    """(name, image, boxes as ratios of it) for the copies the person bar is checked on."""
    h, w = rgb.shape[:2]
    yield "as is", rgb, boxes
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    yield "jpeg q95", cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), boxes
    small = cv2.resize(rgb, (round(w * 0.8), round(h * 0.8)), interpolation=cv2.INTER_AREA)
    yield "rescale 0.8", small, boxes
    dx, dy = round(0.05 * w), round(0.05 * h)
    crop = np.ascontiguousarray(rgb[dy : h - dy, dx : w - dx])
    cw, ch = w - 2 * dx, h - 2 * dy

    def cropped(b):
        x0, y0, x1, y1 = b
        return (
            np.clip((x0 * w - dx) / cw, 0, 1),
            np.clip((y0 * h - dy) / ch, 0, 1),
            np.clip((x1 * w - dx) / cw, 0, 1),
            np.clip((y1 * h - dy) / ch, 0, 1),
        )

    yield "crop 5 %", crop, [(c, cropped(b)) for c, b in boxes]
    mirrored = [(c, (1 - b[2], b[1], 1 - b[0], b[3])) for c, b in boxes]
    yield "mirror", np.ascontiguousarray(rgb[:, ::-1]), mirrored


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


def person_hits(labels: list[dict], boxes) -> tuple[int, int]:
    person = next((lab for lab in labels if lab["Name"] == "Person"), {"Instances": []})
    found = [
        (b["Left"], b["Top"], b["Left"] + b["Width"], b["Top"] + b["Height"])
        for b in (i["BoundingBox"] for i in person["Instances"])
    ]
    truth = [b for c, b in boxes if c == "person"]
    return sum(any(iou(f, t) >= 0.5 for f in found) for t in truth), len(truth)


def measure(root: Path, detect_labels) -> dict:
    """Everything the module docstring lists; `detect_labels(rgb)` -> the Labels list."""
    mapping = coco_labels()
    coco_names = set(mapping.values())
    out = {"coco8_found": 0, "coco8_pairs": 0, "coco8_false": 0, "objects_found": 0}
    out.update({"objects_wanted": 0, "people": {}, "missed": []})
    for jpg, boxes in coco8(root):
        rgb = gt.read_rgb(jpg)
        for name, image, moved in perturbations(rgb, boxes):
            labels = detect_labels(image)
            hit, total = person_hits(labels, moved)
            row = out["people"].setdefault(name, [0, 0])
            row[0] += hit
            row[1] += total
            if name != "as is":
                continue
            answered = {lab["Name"] for lab in labels}
            wanted = {mapping[c] for c, _ in boxes}
            out["coco8_pairs"] += len(wanted)
            out["coco8_found"] += len(wanted & answered)
            out["coco8_false"] += len((answered & coco_names) - wanted)
            out["missed"] += [f"{jpg.name}:{w}" for w in sorted(wanted - answered)]
    for row in gt.manifest_rows(root):
        fields = gt.ground_truth_fields(row)
        if row["kind"] != "objects" or "coco8" in row["local_path"] or "labels" not in fields:
            continue
        wanted = {w.split("(")[0].strip() for w in fields["labels"].split(",")}
        answered = {lab["Name"] for lab in detect_labels(gt.read_rgb(root / row["local_path"]))}
        out["objects_wanted"] += len(wanted)
        out["objects_found"] += len(wanted & answered)
        out["missed"] += [f"{Path(row['local_path']).name}:{w}" for w in sorted(wanted - answered)]
    return out


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--classifier", default=None, help="a manifest name, e.g. efficientnet_lite2"
    )
    args = parser.parse_args()
    if args.classifier:
        from rekognition_emulator.models import labels as scene

        scene.CLASSIFIER = args.classifier
    root = gt.testdata_dir()
    if root is None:
        print("../shared/testdata is absent", file=sys.stderr)
        return 2
    from rekognition_emulator.handlers.analysis import labels

    found = measure(root, lambda rgb: labels.detect_labels(rgb)["Labels"])
    print(
        f"COCO8 photo-class pairs named: {found['coco8_found']} of {found['coco8_pairs']}; "
        f"labels of COCO classes not in the photo: {found['coco8_false']}"
    )
    print(
        f"shared object photos, labels named: {found['objects_found']} of {found['objects_wanted']}"
    )
    print("not named:", ", ".join(found["missed"]))
    total = [0, 0]
    for name, (hit, n) in found["people"].items():
        print(f"COCO8 people at IoU 0.5, {name:12s}: {hit} of {n}")
        if name != "as is":
            total = [total[0] + hit, total[1] + n]
    print(
        f"COCO8 people at IoU 0.5, perturbed copies: {total[0]} of {total[1]} ({total[0] / total[1]:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
