"""`rekognition-emulator calibrate`: the threshold report on the shared identities, its figures
recomputed from its own pair list, and a sample of its pairs scored again by CompareFaces
through boto3."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_client
from tests.groundtruth import FIT_IDENTITIES, HELD_OUT_IDENTITIES, IMAGE_SUFFIXES, LABELS_TSV

STANDARD = [80.0, 90.0, 95.0, 99.0]


def run_calibrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rekognition_emulator", "calibrate", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


def people_csv(path: Path) -> dict[str, dict[str, str]]:
    """Two real attributes of the shared identities: gender (as labelled by eye in
    tests/data/face_labels.tsv) and which half of the identity split they are in."""
    gender: dict[str, str] = {}
    with LABELS_TSV.open() as fh:
        rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        for row in rows:
            if row["identity"] and row["photo"].startswith("faces/identities/"):
                gender[row["identity"]] = row["gender"]
    people = {
        person: {
            "gender": gender[person],
            "split": "fit" if person in FIT_IDENTITIES else "held-out",
        }
        for person in (*FIT_IDENTITIES, *HELD_OUT_IDENTITIES)
    }
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["person", "gender", "split"])
        for person, row in people.items():
            out.writerow([person, row["gender"], row["split"]])
    return people


@pytest.fixture(scope="module")
def report(testdata: Path, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("calibration")
    people = people_csv(folder / "people.csv")
    proc = run_calibrate(
        str(testdata / "faces" / "identities"),
        "--attributes",
        str(folder / "people.csv"),
        "--threshold",
        "85",
        "--out",
        str(folder / "out"),
        "--worst",
        "5",
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = folder / "out"
    with (out / "pairs.csv").open() as fh:
        pairs = list(csv.DictReader(fh))
    return {
        "stdout": proc.stdout,
        "html": (out / "report.html").read_text(),
        "summary": json.loads((out / "summary.json").read_text()),
        "pairs": pairs,
        "people": people,
        "photos": testdata / "faces" / "identities",
    }


def rates(pairs: list[dict], threshold: float) -> dict:
    same = [float(p["similarity"]) for p in pairs if p["same_person"] == "1"]
    different = [float(p["similarity"]) for p in pairs if p["same_person"] == "0"]
    return {
        "false_matches": sum(s >= threshold for s in different),
        "different_pairs": len(different),
        "false_non_matches": sum(s < threshold for s in same),
        "same_pairs": len(same),
    }


def test_every_pair_of_photos_with_a_face_is_scored(report):
    photos = sorted(p for p in report["photos"].rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    left_out = {m["photo"] for m in report["summary"]["photos_without_face"]}
    used = [p for p in photos if f"{p.parent.name}/{p.name}" not in left_out]
    n = len(used)
    assert len(report["pairs"]) == n * (n - 1) // 2
    same = sum(p["same_person"] == "1" for p in report["pairs"])
    by_person: dict[str, int] = {}
    for p in used:
        by_person[p.parent.name] = by_person.get(p.parent.name, 0) + 1
    assert same == sum(k * (k - 1) // 2 for k in by_person.values())
    assert report["summary"]["people"] == 10


def test_the_rates_at_each_threshold_are_those_of_the_pairs(report):
    summary = report["summary"]
    assert summary["thresholds"] == [80.0, 85.0, 90.0, 95.0, 99.0]
    for row in summary["overall"]:
        expected = rates(report["pairs"], row["threshold"])
        assert {k: row[k] for k in expected} == expected
        assert row["fmr"] == pytest.approx(expected["false_matches"] / expected["different_pairs"])
        assert row["fnmr"] == pytest.approx(expected["false_non_matches"] / expected["same_pairs"])
    # a higher threshold never matches more strangers nor fewer of the same person
    fmrs = [row["fmr"] for row in summary["overall"]]
    fnmrs = [row["fnmr"] for row in summary["overall"]]
    assert fmrs == sorted(fmrs, reverse=True) and fnmrs == sorted(fnmrs)


def test_the_subgroup_rates_count_the_pairs_within_each_group(report):
    people = report["people"]
    for column in ("gender", "split"):
        groups = report["summary"]["subgroups"][column]
        assert set(groups) == {row[column] for row in people.values()}
        for value, rows in groups.items():
            inside = [
                p
                for p in report["pairs"]
                if people[p["person_a"]][column] == value and people[p["person_b"]][column] == value
            ]
            for row in rows:
                expected = rates(inside, row["threshold"])
                assert {k: row[k] for k in expected} == expected, (column, value)
    # One woman among the ten people: her group has same-person pairs and no stranger pair.
    female = report["summary"]["subgroups"]["gender"]["Female"][0]
    assert female["different_pairs"] == 0 and female["fmr"] is None


def test_the_report_shows_the_figures_charts_and_worst_pairs(report):
    html = report["html"]
    assert html.count("<svg") == 2  # the distributions and the error curves, inline
    assert "<polyline" in html and 'class="same"' in html
    for threshold in ("80", "85", "90", "95", "99"):
        assert f"<tr><td>{threshold}</td>" in html
    assert 'data-column="gender"' in html and 'data-group="held-out"' in html
    assert len(re.findall(r'<div class="pair (?:same|different)">', html)) == 10
    assert html.count('src="data:image/jpeg;base64,') == 20  # two faces per worst pair
    assert "99" in html and "false match" in html
    assert "http://" not in html and "https://" not in html  # self-contained


def test_the_figures_match_compare_faces_called_pair_by_pair(report, endpoint):
    """A sample of the pairs, the same person and different people, scored again by
    CompareFaces through boto3: the report's Similarity is CompareFaces' to the last digit."""
    rekognition = make_client("rekognition", endpoint)
    same = [p for p in report["pairs"] if p["same_person"] == "1"]
    different = [p for p in report["pairs"] if p["same_person"] == "0"]
    sample = same[:: max(1, len(same) // 8)][:8] + different[:: max(1, len(different) // 8)][:8]
    for pair in sample:
        source = (report["photos"] / pair["photo_a"]).read_bytes()
        target = (report["photos"] / pair["photo_b"]).read_bytes()
        answer = rekognition.compare_faces(
            SourceImage={"Bytes": source}, TargetImage={"Bytes": target}, SimilarityThreshold=0
        )
        best = max(m["Similarity"] for m in answer["FaceMatches"])
        assert best == float(pair["similarity"]), pair


def test_input_it_cannot_use_is_refused_in_one_line(tmp_path: Path):
    proc = run_calibrate(str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert "is not a folder" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "only-one" / "ann").mkdir(parents=True)
    proc = run_calibrate(str(tmp_path / "only-one"))
    assert proc.returncode == 2 and "at least two person folders" in proc.stderr
    proc = run_calibrate(str(tmp_path), "--threshold", "120")
    assert proc.returncode == 2 and "between 0 and 100" in proc.stderr
