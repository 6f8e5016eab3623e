"""Custom Labels' AWS-side rules on their own (no server): manifests, datasets, the split,
evaluation files, lifecycle, policies, and training from entries."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import skimage.data

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.handlers.custom_labels import (
    datasets,
    evaluation,
    lifecycle,
    manifest,
    policy,
    training,
)
from rekognition_emulator.models.custom import metrics
from rekognition_emulator.models.custom.features import default_extractor
from tests.custom_labels_kit import classification_line, detection_line


def cls_line(ref: str, *labels: str) -> str:
    return json.dumps(classification_line(ref, *labels, attr="attr"))


def det_line(ref: str, boxes: list[tuple], size=(640, 480), class_map=None, objects=None) -> str:
    return json.dumps(detection_line(ref, size, boxes, attr="bb", class_map=class_map, objects=objects))  # fmt: skip


def codes(node) -> list[str]:
    """Every error/warning code anywhere in a JSON line."""
    out = []
    if isinstance(node, dict):
        for key in ("errors", "warnings"):
            out += [e["code"] for e in node.get(key, [])]
        for k, v in node.items():
            if k not in ("errors", "warnings"):
                out += codes(v)
    elif isinstance(node, list):
        for v in node:
            out += codes(v)
    return out


# --- manifest lines ----------------------------------------------------------------------------


def test_classification_and_multi_label_lines():
    one = manifest.parse_line(cls_line("s3://b/a.jpg", "Sunrise"), 0)
    assert one.image_labels == ["Sunrise"] and one.labeled and not one.has_errors
    assert (one.bucket, one.key) == ("b", "a.jpg")
    two = manifest.parse_line(cls_line("s3://b/a.jpg", "Sunrise", "Beach"), 0)
    assert two.image_labels == ["Sunrise", "Beach"]


def test_detection_line_keeps_good_boxes_and_marks_bad_ones_where_they_are():
    line = manifest.parse_line(
        det_line(
            "s3://b/x.png",
            [("Echo", 10, 10, 100, 80), ("Echo", 600, 10, 100, 80), ("Dot", 5, 5, 1, 1)],
        ),  # fmt: skip
        3,
    )
    assert [(b.label, b.left) for b in line.boxes] == [("Echo", 10.0)]
    anns = line.json["bb"]["annotations"]
    assert "errors" not in anns[0]
    assert anns[1]["errors"][0] == {"code": "ERROR_INVALID_BOUNDING_BOX", "message": "The bounding box has off frame values."}  # fmt: skip
    assert anns[2]["errors"][0]["code"] == "ERROR_BOUNDING_BOX_TOO_SMALL"
    assert line.has_errors and line.labeled and line.image_size == (640, 480)


@pytest.mark.parametrize(
    "text, code, dropped",
    [
        ("{not json", "ERROR_INVALID_JSON_LINE", True),
        ('["a list"]', "ERROR_INVALID_JSON_LINE", True),
        ('{"x": 1, "x-metadata": {}}', "ERROR_MISSING_SOURCE_REF", True),
        ('{"source-ref": "https://b/a.jpg"}', "ERROR_INVALID_SOURCE_REF_FORMAT", True),
        ('{"source-ref": "s3://b/a.jpg"}', "WARNING_UNANNOTATED_RECORD", False),
        ('{"source-ref": "s3://b/a.jpg", "label": 1}', "ERROR_NO_LABEL_ATTRIBUTES", False),
        (
            '{"source-ref": "s3://b/a.jpg", "l": 1, "l-metadata": {"type": "groundtruth/semantic-segmentation"}}',
            "ERROR_UNSUPPORTED_USE_CASE_TYPE",
            False,
        ),  # fmt: skip
        (
            '{"source-ref": "s3://b/a.jpg", "l": "x", "l-metadata": {"type": "groundtruth/image-classification", "class-name": "A"}}',
            "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
            False,
        ),  # fmt: skip
        (
            '{"source-ref": "s3://b/a.jpg", "l": 1, "l-metadata": {"type": "groundtruth/image-classification"}}',
            "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
            False,
        ),  # fmt: skip
    ],
)
def test_each_bad_line_gets_its_code_and_never_raises(text, code, dropped):
    line = manifest.parse_line(text, 0)
    assert code in codes(line.json)
    assert (line.dropped is not None) == dropped
    assert not line.labeled


def test_detection_errors_inside_annotations():
    missing_map = manifest.parse_line(det_line("s3://b/a.jpg", [("A", 1, 1, 50, 50)], class_map={"7": "B"}), 0)  # fmt: skip
    assert codes(missing_map.json) == ["ERROR_NO_VALID_LABEL_ATTRIBUTES", "ERROR_NO_VALID_ANNOTATIONS", "ERROR_MISSING_CLASS_MAP_ID"]  # fmt: skip
    no_conf = manifest.parse_line(det_line("s3://b/a.jpg", [("A", 1, 1, 50, 50)], objects=[{}]), 0)
    assert "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE" in codes(no_conf.json)
    many = manifest.parse_line(det_line("s3://b/a.jpg", [("A", i, 1, 5, 5) for i in range(51)]), 0)
    assert "ERROR_TOO_MANY_BOUNDING_BOXES" in codes(many.json) and not many.boxes
    empty = manifest.parse_line(det_line("s3://b/a.jpg", []), 0)
    assert codes(empty.json) == ["WARNING_NO_ANNOTATIONS", "WARNING_NO_ATTRIBUTE_ANNOTATIONS"]
    assert empty.ignored and not empty.has_errors


def test_manifest_drops_duplicates_and_keeps_file_order():
    text = "\n".join([cls_line("s3://b/1.jpg", "A"), "", cls_line("s3://b/2.jpg", "B"), cls_line("s3://b/1.jpg", "B"), "{bad"])  # fmt: skip
    m = manifest.parse_manifest(text)
    assert m.total_lines == 4
    assert [ln.source_ref for ln in m.kept] == ["s3://b/1.jpg", "s3://b/2.jpg"]
    assert [ln.dropped for ln in m.dropped] == ["ERROR_DUPLICATE_SOURCE_REF", "ERROR_INVALID_JSON_LINE"]  # fmt: skip


def test_entry_json_carries_the_labeled_flag():
    line = manifest.parse_line(cls_line("s3://b/1.jpg", "A"), 0)
    entry = json.loads(manifest.entry_json(line))
    assert entry["cl-metadata"] == {"is_labeled": True} and entry["source-ref"] == "s3://b/1.jpg"
    assert manifest.decode(b"\xff\xfe\x00bin") is None
    assert manifest.decode("\ufeff{}".encode()) == "{}"


# --- datasets ------------------------------------------------------------------------------------


def _lines(*texts: str) -> list[manifest.Line]:
    return manifest.parse_manifest("\n".join(texts)).kept


def test_stats_labels_and_filters():
    lines = _lines(
        cls_line("s3://b/cats/1.jpg", "Cat"),
        cls_line("s3://b/cats/2.jpg", "Cat", "Pet"),
        det_line("s3://b/dogs/3.jpg", [("Dog", 1, 1, 50, 50), ("Dog", 600, 1, 50, 50)]),
        '{"source-ref": "s3://b/other/4.jpg"}',
    )
    assert datasets.stats(lines) == {"LabeledEntries": 3, "TotalEntries": 4, "TotalLabels": 3, "ErrorEntries": 1}  # fmt: skip
    assert datasets.label_stats(lines) == [
        {"LabelName": "Cat", "LabelStats": {"EntryCount": 2, "BoundingBoxCount": 0}},
        {"LabelName": "Dog", "LabelStats": {"EntryCount": 1, "BoundingBoxCount": 1}},
        {"LabelName": "Pet", "LabelStats": {"EntryCount": 1, "BoundingBoxCount": 0}},
    ]
    pick = lambda **kw: [ln.key for ln in lines if datasets.matches(ln, **kw)]  # noqa: E731
    assert pick(contains_labels=["Pet", "Dog"]) == ["cats/2.jpg", "dogs/3.jpg"]
    assert pick(labeled=False) == ["other/4.jpg"]
    assert pick(source_ref_contains="cats/") == ["cats/1.jpg", "cats/2.jpg"]
    assert pick(has_errors=True) == ["dogs/3.jpg"]
    assert pick(labeled=True, source_ref_contains="cats", contains_labels=["Pet"]) == ["cats/2.jpg"]


def test_update_replaces_by_source_ref_and_appends_the_rest():
    old = _lines(cls_line("s3://b/1.jpg", "A"), cls_line("s3://b/2.jpg", "A"))
    new = _lines(cls_line("s3://b/2.jpg", "B"), cls_line("s3://b/3.jpg", "C"))
    merged = datasets.merge(old, new)
    assert [(ln.key, ln.labels) for ln in merged] == [("1.jpg", ["A"]), ("2.jpg", ["B"]), ("3.jpg", ["C"])]  # fmt: skip


def test_manifest_checks_fail_on_too_many_bad_lines_or_labels():
    good = [cls_line(f"s3://b/{i}.jpg", "A") for i in range(8)]
    assert (
        datasets.check_manifest(manifest.parse_manifest("\n".join(good + ["{x"] * 2)), 10) is None
    )
    failure = datasets.check_manifest(manifest.parse_manifest("\n".join(good + ["{x"] * 3)), 10)
    assert failure.code == "ERROR_TOO_MANY_RECORDS_IN_ERROR"
    assert failure.message.startswith("The manifest file has too many terminal errors.")
    many = [cls_line(f"s3://b/{i}.jpg", f"L{i}") for i in range(251)]
    assert datasets.check_manifest(manifest.parse_manifest("\n".join(many)), 10).code == "ERROR_MANIFEST_TOO_MANY_LABELS"  # fmt: skip
    assert datasets.check_manifest(manifest.Manifest([], 0), 2**31).code == "ERROR_MANIFEST_SIZE_TOO_LARGE"  # fmt: skip


def test_split_is_stratified_deterministic_and_keeps_every_label_in_training():
    lines = _lines(
        *[cls_line(f"s3://b/a{i}.jpg", "A") for i in range(20)],
        *[cls_line(f"s3://b/b{i}.jpg", "B") for i in range(5)],
        cls_line("s3://b/c0.jpg", "C"),
    )
    train, test = datasets.split(lines)
    assert len(test) == 5
    count = lambda xs, lb: sum(lb in ln.labels for ln in xs)  # noqa: E731
    assert (count(test, "A"), count(test, "B"), count(test, "C")) == (4, 1, 0)
    assert count(train, "C") == 1
    assert [ln.key for ln in datasets.split(lines)[1]] == [ln.key for ln in test]
    assert datasets.split(_lines(cls_line("s3://b/1.jpg", "A"))) is None


# --- evaluation files ----------------------------------------------------------------------------


def test_output_keys_follow_the_prefix():
    assert (
        evaluation.output_key("out", "ManifestSummary", "p", "v1")
        == "out/ManifestSummary-p-v1.json"
    )
    assert (
        evaluation.output_key("out/", "ManifestSummary", "p", "v1")
        == "out/ManifestSummary-p-v1.json"
    )
    assert evaluation.output_key(None, "ManifestSummary", "p", "v1") == "ManifestSummary-p-v1.json"


def test_summary_for_classification_and_detection():
    truth = [{"a"}, {"b"}]
    scores = np.array([[0.8, 0.2], [0.3, 0.7]])
    ev = metrics.classification(["a", "b"], truth, scores)
    conf = evaluation.confusion_matrix(["a", "b"], truth, scores)
    s = evaluation.summary(ev, use_case=manifest.IMAGE_LEVEL, version_arn="arn:v", n_train=8, n_test=2, finished_at=0.0, confusion=conf)  # fmt: skip
    agg = s["AggregatedEvaluationResults"]
    assert list(agg) == ["ConfusionMatrix", "F1Score", "Precision", "Recall"]
    assert agg["ConfusionMatrix"] == [
        {"GroundTruthLabel": "a", "PredictedLabel": "a", "Value": 1.0},
        {"GroundTruthLabel": "b", "PredictedLabel": "b", "Value": 1.0},
    ]
    assert s["EvaluationDetails"]["EvaluationEndTimestamp"] == "1970-01-01T00:00:00.000000"
    assert s["EvaluationDetails"]["NumberOfTrainingImages"] == 8
    assert {r["Label"] for r in s["LabelEvaluationResults"]} == {"a", "b"}
    det = metrics.Evaluation([], 0.5, 0.5, 0.5, average_precision=0.7, average_recall=0.4)
    s = evaluation.summary(det, use_case=manifest.OBJECT_LOCALIZATION, version_arn="arn:v", n_train=1, n_test=1, finished_at=0.0)  # fmt: skip
    assert s["AggregatedEvaluationResults"] == {"F1Score": 0.5, "Precision": 0.5, "Recall": 0.5, "AveragePrecision": 0.7, "AverageRecall": 0.4}  # fmt: skip


def test_manifest_summary_counts_lines():
    lines = manifest.parse_manifest("\n".join([
        cls_line("s3://b/1.jpg", "A"),
        '{"source-ref": "s3://b/2.jpg"}',
        '{"source-ref": "s3://b/3.jpg", "l": 1}',
    ])).lines  # fmt: skip
    s = evaluation.manifest_summary(evaluation.SideCounts(manifest.IMAGE_LEVEL, lines, []), evaluation.SideCounts(manifest.IMAGE_LEVEL, [], []), [])  # fmt: skip
    tr = s["statistics"]["training"]
    assert (tr["total_json_lines"], tr["valid_json_lines"], tr["invalid_json_lines"], tr["ignored_json_lines"]) == (3, 1, 1, 1)  # fmt: skip
    assert tr["error_json_line_indices"] == [2] and tr["use_case"] == "IMAGE_LEVEL_LABELS"


def test_classification_snapshot_flags_each_prediction():
    lines = _lines(cls_line("s3://b/1.jpg", "A"))
    (row,) = evaluation.classification_snapshot(lines, ["A", "B"], np.array([[0.9, 0.6]]), {"A": 0.5, "B": 0.7}, "now")  # fmt: skip
    a = row["rekognition-custom-labels-evaluation-0-metadata"]
    b = row["rekognition-custom-labels-evaluation-1-metadata"]
    assert a[evaluation.DETAILS]["is-true-positive"] and a["class-name"] == "A"
    assert b[evaluation.DETAILS]["is-true-negative"] and b["human-annotated"] == "no"


# --- lifecycle -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation, status, error",
    [
        ("DetectCustomLabels", "STOPPED", errors.ResourceNotReadyException),
        ("DetectCustomLabels", "TRAINING_IN_PROGRESS", errors.ResourceNotReadyException),
        ("StartProjectVersion", "RUNNING", errors.ResourceInUseException),
        ("StartProjectVersion", "TRAINING_FAILED", errors.ResourceInUseException),
        ("StopProjectVersion", "STOPPED", errors.ResourceInUseException),
        ("StopProjectVersion", "TRAINING_COMPLETED", errors.ResourceInUseException),
        ("DeleteProjectVersion", "RUNNING", errors.ResourceInUseException),
        ("DeleteProjectVersion", "TRAINING_IN_PROGRESS", errors.ResourceInUseException),
        ("CopyProjectVersion", "TRAINING_FAILED", errors.InvalidParameterException),
    ],
)
def test_illegal_transitions_answer_aws_errors(operation, status, error):
    with pytest.raises(error, match=status):
        lifecycle.require(
            operation, status, "arn:aws:rekognition:us-east-1:1:project/p/version/v/1"
        )


def test_legal_transitions_pass():
    for op, status in [("DetectCustomLabels", "RUNNING"), ("StartProjectVersion", "STOPPED"), ("StopProjectVersion", "RUNNING"), ("DeleteProjectVersion", "TRAINING_FAILED"), ("CopyProjectVersion", "RUNNING")]:  # fmt: skip
        lifecycle.require(op, status, "v")
    with pytest.raises(errors.ResourceInUseException):
        lifecycle.require_dataset_settled("UPDATE_IN_PROGRESS", "d", "DeleteDataset")
    with pytest.raises(errors.ResourceNotReadyException):
        lifecycle.require_dataset_ready("CREATE_IN_PROGRESS", "d", "ListDatasetEntries")


# --- policies ------------------------------------------------------------------------------------

VERSION = "arn:aws:rekognition:us-east-1:111111111111:project/p/version/v1/1"


def _policy(effect="Allow", principal=None, action=policy.ACTION, resource="*", **extra) -> str:
    st = {"Effect": effect, "Principal": principal or {"AWS": "arn:aws:iam::222222222222:root"}, "Action": action, "Resource": resource, **extra}  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


@pytest.mark.parametrize(
    "document, why",
    [
        ("{", "not JSON"),
        ("[]", "JSON object"),
        ('{"Version": "2012-10-17"}', "no Statement"),
        (_policy(action="rekognition:DetectCustomLabels"), "only action"),
        (_policy(NotResource="x"), "NotResource"),
        (
            json.dumps(
                {"Statement": [{"Effect": "Allow", "Action": policy.ACTION, "Resource": "*"}]}
            ),
            "no Principal",
        ),  # fmt: skip
        (_policy(effect="Maybe"), "Effect"),
    ],
)
def test_malformed_policies_say_why(document, why):
    with pytest.raises(errors.MalformedPolicyDocumentException, match=why):
        policy.parse(document)


def test_policies_allow_and_deny_copies():
    allow = _policy(resource=VERSION)
    assert policy.allows_copy([allow], "222222222222", VERSION)
    assert not policy.allows_copy([allow], "333333333333", VERSION)
    assert policy.allows_copy([_policy(principal="*", resource="arn:aws:rekognition:*:111111111111:project/p/version/*")], "444444444444", VERSION)  # fmt: skip
    assert not policy.allows_copy([allow, _policy(effect="Deny")], "222222222222", VERSION)
    assert policy.revision_id("n", "d", 1) != policy.revision_id("n", "d", 2)


# --- training from entries -------------------------------------------------------------------------


def _png(rgb: np.ndarray) -> bytes:
    return cv2.imencode(".png", rgb[:, :, ::-1])[1].tobytes()


@pytest.mark.parametrize(
    "train_texts, test_texts, code",
    [
        ([], None, "ERROR_EMPTY_MANIFEST"),
        (
            [cls_line("s3://a/1.jpg", "A"), cls_line("s3://b/2.jpg", "B")],
            None,
            "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS",
        ),  # fmt: skip
        (
            [cls_line(f"s3://b/{i}.jpg", "A") for i in range(6)],
            [cls_line("s3://b/t.jpg", "A")],
            "ERROR_MANIFEST_TOO_FEW_LABELS",
        ),  # fmt: skip
        (
            [cls_line("s3://b/1.jpg", "A")],
            None,
            "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT",
        ),
        (
            [cls_line("s3://b/1.jpg", "A"), cls_line("s3://b/2.jpg", "B")],
            [cls_line("s3://b/3.jpg", "C"), cls_line("s3://b/4.jpg", "D")],
            "ERROR_INSUFFICIENT_LABEL_OVERLAP",
        ),  # fmt: skip
        (
            [
                cls_line("s3://b/1.jpg", "A"),
                cls_line("s3://b/2.jpg", "A"),
                det_line("s3://b/3.jpg", [("X", 1, 1, 50, 50)]),
            ],
            None,
            "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS",
        ),  # fmt: skip
    ],
)
def test_trainings_that_cannot_succeed_fail_with_the_summary_code(train_texts, test_texts, code):
    train = _lines(*train_texts)
    test = _lines(*test_texts) if test_texts is not None else None
    outcome = training.train(None, train, test, lambda b, k: b"", evaluation.Target("p", "v", "arn", "o"))  # type: ignore[arg-type]  # fmt: skip
    assert outcome.model is None
    assert outcome.status_message.startswith(training.TERMINAL[code].split("{}")[0])
    if code != "ERROR_EMPTY_MANIFEST":
        summary = json.loads(outcome.files["o/ManifestSummary-p-v.json"])
        assert summary["errors"][0]["code"] == code


def test_training_from_entries_writes_the_six_files_and_marks_unreadable_images():
    photos = {"cat": skimage.data.chelsea(), "cup": skimage.data.coffee()}
    objects, texts = {}, []
    for name, rgb in photos.items():
        for i in range(5):
            h, w = rgb.shape[:2]
            crop = np.ascontiguousarray(rgb[i * 10 : h - 30 + i * 5, i * 12 : w - 40 + i * 4])
            objects[f"{name}{i}.png"] = _png(crop if i % 2 else crop[:, ::-1])
            texts.append(cls_line(f"s3://b/{name}{i}.png", name))
    texts.append(cls_line("s3://b/missing.png", "cat"))
    objects["tiny.png"] = _png(np.zeros((20, 20, 3), np.uint8))
    texts.append(cls_line("s3://b/tiny.png", "cup"))

    def read(bucket: str, key: str) -> bytes:
        assert bucket == "b"
        return objects[key]

    lines = _lines(*texts)
    outcome = training.train(default_extractor(), lines, None, read, evaluation.Target("p", "v1", "arn:v", "out"))  # fmt: skip
    assert outcome.model is not None, outcome.status_message
    assert outcome.status_message == "The model is ready to run."
    assert sorted(outcome.keys) == sorted([evaluation.SUMMARY, evaluation.MANIFEST_SUMMARY, evaluation.TRAINING_GT, evaluation.TESTING_GT, evaluation.TRAINING_VALIDATION, evaluation.TESTING_VALIDATION])  # fmt: skip
    summary = json.loads(outcome.files["out/EvaluationResultSummary-p-v1.json"])
    assert summary["EvaluationDetails"]["ProjectVersionArn"] == "arn:v"
    assert summary["AggregatedEvaluationResults"]["F1Score"] == pytest.approx(outcome.f1, abs=1e-6)
    bad = {ln.key: codes(ln.json) for ln in lines if ln.key in ("missing.png", "tiny.png")}
    # Each is in the training or the test set; either way its image was read and refused.
    assert bad == {"missing.png": ["ERROR_INVALID_IMAGE"], "tiny.png": ["ERROR_INVALID_IMAGE_DIMENSION"]}  # fmt: skip


def test_moderation_adapter_lines():
    line = manifest.parse_line('{"source-ref": "s3://b/1.jpg", "content-moderation-groundtruth": {"ModerationLabels": [{"Name": "Rude Gesture"}]}}', 0)  # fmt: skip
    assert line.moderation and line.image_labels == ["Rude Gesture"] and line.labeled
    safe = manifest.parse_line('{"source-ref": "s3://b/2.jpg", "content-moderation-groundtruth": {"ModerationLabels": []}}', 0)  # fmt: skip
    assert safe.moderation and safe.labeled and safe.labels == []
    bad = manifest.parse_line('{"source-ref": "s3://b/3.jpg", "content-moderation-groundtruth": {"Labels": 1}}', 0)  # fmt: skip
    assert codes(bad.json) == ["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"] and not bad.labeled


def test_adapter_training_learns_the_users_label_and_reports_it():
    from rekognition_emulator.handlers.custom_labels import adapters

    cat, cup = skimage.data.chelsea(), skimage.data.coffee()
    objects, texts = {}, []
    for name, rgb, labels in (("cat", cat, [{"Name": "Rude Gesture"}]), ("cup", cup, [])):
        for i in range(5):
            h, w = rgb.shape[:2]
            objects[f"{name}{i}.png"] = _png(np.ascontiguousarray(rgb[i * 9 : h - 20 + i * 4, i * 11 : w - 30 + i * 6]))  # fmt: skip
            texts.append(json.dumps({"source-ref": f"s3://b/{name}{i}.png", manifest.MODERATION_KEY: {"ModerationLabels": labels}}))  # fmt: skip

    def base(rgb: np.ndarray) -> dict[str, float]:
        return {"Violence": 10.0, "Drugs": 2.0}  # a base model that sees nothing here

    lines = _lines(*texts)
    outcome = adapters.train_adapter(default_extractor(), base, ["Violence", "Drugs"], lines, None, lambda b, k: objects[k], evaluation.Target("mod", "a1", "arn:a", None))  # fmt: skip
    assert outcome.model is not None, outcome.status_message
    assert outcome.model.labels == ["Rude Gesture"] and outcome.f1 == 1.0
    assert "EvaluationResultSummary-mod-a1.json" in outcome.files
    assert "ConfusionMatrix" not in json.loads(outcome.files["EvaluationResultSummary-mod-a1.json"])["AggregatedEvaluationResults"]  # fmt: skip
    empty = adapters.train_adapter(None, base, [], [], None, lambda b, k: b"", evaluation.Target("m", "v", "a", None))  # type: ignore[arg-type]  # fmt: skip
    assert empty.model is None and empty.status_message.startswith("The manifest file is empty.")


def test_a_model_learns_only_its_own_kind_of_label_from_mixed_lines():
    both = json.loads(det_line("s3://b/0.jpg", [("Box", 1, 1, 50, 50)]))
    both.update(json.loads(cls_line("s3://b/0.jpg", "A")))
    lines = _lines(
        json.dumps(both), *[cls_line(f"s3://b/{i}.jpg", "AB"[i % 2]) for i in range(1, 9)]
    )
    use_case, train, test = training.check(lines, None)
    assert use_case == manifest.IMAGE_LEVEL
    assert sorted(datasets.labels_of(train + test, use_case)) == ["A", "B"]
    assert lines[0].labels_for(manifest.OBJECT_LOCALIZATION) == ["Box"]
