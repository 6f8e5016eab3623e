"""Regenerate the ImageNet -> Rekognition label map used by DetectLabels.

Inputs (read-only):
  - the taxonomy folder (shared/design/taxonomy): AWS's v3 label list normalised
    (rekognition_labels.tsv), the parents seen in real responses (rekognition_observed_parents.tsv),
    the 1000 ImageNet classes with their WordNet hypernym chains, and the automatic draft
    mapping (imagenet_to_rekognition_automatch.tsv);
  - handlers/data/label_overrides.tsv: the hand review (class fixes and the parents of hub labels).

Outputs (committed, read at run time by handlers/labels.py):
  - handlers/data/imagenet_labels.tsv: index, wnid, imagenet name, Rekognition label, source;
  - handlers/data/coco_labels.tsv: the 80 COCO detector classes, the same way;
  - handlers/data/css_colors.tsv: the 147 CSS3 colour names that DominantColors snap to;
  - handlers/data/labels.tsv: every label the emulator can answer with, its Parents (all
    ancestors, sorted as AWS sorts them), Aliases, Categories and whether AWS gives it boxes.

Parents: AWS does not publish its hierarchy. Labels seen in real responses keep their observed
ancestors; hub labels get the parents written in the overrides; any other label gets the nearest
hub found going up its class's WordNet hypernym chain. Ancestors are then closed transitively.

    python scripts/build_label_map.py [--taxonomy ../shared/design/taxonomy] [--check]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "handlers" / "data"
OVERRIDES = DATA / "label_overrides.tsv"
OUT_CLASSES = DATA / "imagenet_labels.tsv"
OUT_LABELS = DATA / "labels.tsv"
OUT_COCO = DATA / "coco_labels.tsv"
OUT_CSS = DATA / "css_colors.tsv"
# Labels the emulator answers from other models than the classifier.
EXTRA_LABELS = ["Person"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split("|") if v]


def build(taxonomy: Path) -> tuple[str, str, str]:
    labels = {r["label"]: r for r in _rows(taxonomy / "rekognition_labels.tsv")}
    lower = {name.lower(): name for name in labels}
    observed = {
        r["label"]: _split(r["parents_all_ancestors"])
        for r in _rows(taxonomy / "rekognition_observed_parents.tsv")
    }
    draft = {int(r["index"]): r for r in _rows(taxonomy / "imagenet_to_rekognition_automatch.tsv")}
    chains = {
        r["wnid"]: r["chain"].split(" > ") for r in _rows(taxonomy / "imagenet_hypernyms.tsv")
    }

    coco = {
        int(r["coco_index"]): r for r in _rows(taxonomy / "coco80_to_rekognition_automatch.tsv")
    }
    coco_fix: dict[int, str] = {}
    class_fix: dict[int, str] = {}
    direct: dict[str, list[str]] = {}
    for r in _rows(OVERRIDES):
        kind, key, value = r["kind"], r["key"], (r.get("value") or "").strip()
        if kind == "class":
            class_fix[int(key)] = value
        elif kind == "coco":
            coco_fix[int(key)] = value
        elif kind == "parents":
            direct[key] = _split(value)
        else:
            raise SystemExit(f"unknown override kind {kind!r}")

    def known(name: str, where: str) -> str:
        if name not in labels:
            raise SystemExit(f"{where}: {name!r} is not a Rekognition v3 label")
        return name

    for name, parents in direct.items():
        known(name, "overrides")
        for p in parents:
            known(p, f"overrides (parent of {name})")
    hubs = set(direct) | {p for ps in observed.values() for p in ps} | set(observed)

    class_rows = []
    for index in range(1000):
        row = draft[index]
        if index in class_fix:
            label, source = class_fix[index], "reviewed"
        elif row["match_label"]:
            label, source = row["match_label"], "draft"
        else:
            label, source = "-", "reviewed"
        if label != "-":
            known(label, f"class {index} {row['name']}")
            # A leaf with no parents of its own takes the nearest hub up its WordNet chain.
            if label not in direct and label not in observed:
                for synset in chains[row["wnid"]][1:]:
                    hub = lower.get(synset.replace("_", " ").lower())
                    if hub and hub in hubs and hub != label:
                        direct.setdefault(label, [hub])
                        break
        class_rows.append((index, row["wnid"], row["name"], label, source))

    def ancestors(name: str, seen: tuple[str, ...] = ()) -> set[str]:
        if name in observed:
            found = set(observed[name])
        else:
            found = set()
            for p in direct.get(name, []):
                if p in seen or p == name:
                    raise SystemExit(f"parent cycle through {name}")
                found |= {p} | ancestors(p, seen + (name,))
        return found

    coco_rows = []
    for index in range(80):
        row = coco[index]
        if index in coco_fix:
            label, source = coco_fix[index], "reviewed"
        else:
            label, source = row["match_label"] or "-", "draft"
        if label != "-":
            known(label, f"COCO class {index} {row['coco_name']}")
        coco_rows.append((index, row["coco_name"], label, source))

    used: set[str] = set(EXTRA_LABELS) | {r[2] for r in coco_rows if r[2] != "-"}
    for *_, label in (r[:4] for r in class_rows):
        if label != "-":
            used.add(label)
    closure = {name: ancestors(name) for name in sorted(used)}
    for parents in list(closure.values()):
        for p in parents:
            closure.setdefault(p, ancestors(p))

    # Observed ancestor lists are the truth: a hub's parents must not contradict them.
    for name, parents in closure.items():
        for p in parents:
            extra = closure[p] - parents
            if extra:
                raise SystemExit(f"{name} -> {p}: {sorted(extra)} not among {name}'s ancestors")

    out_classes = ["index\twnid\timagenet_name\tlabel\tsource"]
    out_classes += [f"{i}\t{w}\t{n}\t{lab}\t{s}" for i, w, n, lab, s in class_rows]
    out_labels = ["label\tparents\taliases\tcategories\tbounding_box"]
    for name in sorted(closure):
        row = labels[name]
        out_labels.append(
            "\t".join(
                [
                    name,
                    "|".join(sorted(closure[name])),
                    row["aliases"],
                    row["categories"],
                    row["bounding_box"],
                ]
            )
        )
    out_coco = ["index\tcoco_name\tlabel\tsource"]
    out_coco += [f"{i}\t{n}\t{lab}\t{s}" for i, n, lab, s in coco_rows]
    return (
        "\n".join(out_classes) + "\n",
        "\n".join(out_labels) + "\n",
        "\n".join(out_coco) + "\n",
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--taxonomy", type=Path, default=REPO.parent / "shared/design/taxonomy")
    ap.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = ap.parse_args()
    classes, labels, coco = build(args.taxonomy)
    css = (args.taxonomy / "css_color_names.tsv").read_text(encoding="utf-8")
    if args.check:
        same = (
            OUT_CLASSES.read_text() == classes
            and OUT_LABELS.read_text() == labels
            and OUT_COCO.read_text() == coco
            and OUT_CSS.read_text() == css
        )
        print("up to date" if same else "handlers/data is stale: run scripts/build_label_map.py")
        return 0 if same else 1
    OUT_CLASSES.write_text(classes)
    OUT_LABELS.write_text(labels)
    OUT_COCO.write_text(coco)
    OUT_CSS.write_text(css)
    print("wrote", ", ".join(p.name for p in (OUT_CLASSES, OUT_LABELS, OUT_COCO, OUT_CSS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
