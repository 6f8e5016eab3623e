"""Custom models on their own (no server): metrics, linear fits, the probe, the detector head,
the model file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import skimage.data

from rekognition_emulator.models.custom import classifier, detector, linear, metrics, model
from rekognition_emulator.models.custom import training as core
from rekognition_emulator.models.custom.features import default_extractor

# --- metrics -------------------------------------------------------------------------------


def test_best_threshold_maximises_f1_and_sits_between_the_scores():
    scores = np.array([0.9, 0.8, 0.6, 0.3, 0.2])
    positive = np.array([True, True, False, True, False])
    thr, p, r, f = metrics.best_threshold(scores, positive, 3)
    # Taking 0.9, 0.8 gives P=1 R=2/3 F1=0.8; down to 0.3 gives P=3/4 R=1 F1=0.857.
    assert (p, r) == (0.75, 1.0)
    assert f == pytest.approx(6 / 7)
    assert thr == pytest.approx((0.3 + 0.2) / 2)


def test_best_threshold_with_nothing_to_find_is_above_every_score():
    thr, p, r, f = metrics.best_threshold(np.array([0.7, 0.2]), np.array([False, False]), 0)
    assert thr >= 0.7 and f == 0.0


def test_voc_ap_of_a_perfect_ranking_is_one_and_a_false_positive_first_costs():
    assert metrics.voc_ap(np.array([0.9, 0.8]), np.array([True, True]), 2) == 1.0
    # FP, TP, TP: precision envelope 2/3 over the whole recall range.
    ap = metrics.voc_ap(np.array([0.9, 0.8, 0.7]), np.array([False, True, True]), 2)
    assert ap == pytest.approx(2 / 3)
    # A ground-truth box never found caps recall at 1/2.
    assert metrics.voc_ap(np.array([0.9]), np.array([True]), 2) == pytest.approx(0.5)


def test_match_is_greedy_by_score_and_one_to_one():
    gt = np.array([[0, 0, 10, 10]])
    dets = np.array([[0, 0, 10, 10], [1, 1, 10, 10]])
    det_gt, gt_det = metrics.match(dets, np.array([0.5, 0.9]), gt)
    assert det_gt.tolist() == [-1, 0]  # the better-scored one takes the box
    assert gt_det.tolist() == [1]


def test_classification_aggregates_are_label_means():
    truth = [{"a"}, {"a"}, {"b"}, {"b"}]
    scores = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    ev = metrics.classification(["a", "b"], truth, scores)
    assert ev.f1 == pytest.approx(np.mean([s.f1 for s in ev.labels]))
    assert ev.precision == pytest.approx(np.mean([s.precision for s in ev.labels]))
    assert {s.label: s.test_images for s in ev.labels} == {"a": 2, "b": 2}


def test_detection_evaluation_counts_boxes_and_recall_over_ious():
    gt = np.array([[10, 10, 50, 50], [60, 60, 100, 100]], float)
    im = metrics.ImageDetections(
        boxes=np.array([[10, 10, 50, 50], [62, 62, 100, 100], [0, 0, 5, 5]], float),
        scores=np.array([0.9, 0.8, 0.7]),
        classes=np.array([0, 0, 0]),
        gt_boxes=gt,
        gt_classes=np.array([0, 0]),
    )
    ev = metrics.detection(["thing"], [im])
    (label,) = ev.labels
    assert label.average_precision == pytest.approx(1.0)
    assert (label.precision, label.recall) == (1.0, 1.0)
    # The second box has IoU 0.9025: found up to IoU 0.9, missed at 0.95.
    assert label.average_recall == pytest.approx((10 + 9) / 20)


# --- linear models ---------------------------------------------------------------------------


def test_softmax_and_sigmoid_fits_separate_clusters():
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 3, (3, 8))
    x = np.concatenate([c + rng.normal(0, 0.5, (20, 8)) for c in centres])
    y = np.repeat(np.arange(3), 20)
    w, b = linear.fit_softmax(x, y, 3)
    assert (linear.softmax(x @ w + b).argmax(1) == y).mean() == 1.0
    onehot = np.eye(3)[y]
    w, b = linear.fit_sigmoid(x, onehot)
    assert ((linear.sigmoid(x @ w + b) > 0.5) == onehot.astype(bool)).mean() > 0.97


def test_ridge_recovers_a_linear_map_in_both_forms():
    rng = np.random.default_rng(2)
    true_w = rng.normal(size=(5, 2))
    x = rng.normal(size=(50, 5))
    w, b = linear.ridge(x, x @ true_w + 3.0, 1e-6)
    assert np.allclose(w, true_w, atol=1e-4) and np.allclose(b, 3.0, atol=1e-4)
    wide = rng.normal(size=(4, 10))  # fewer samples than features: the dual form
    w, b = linear.ridge(wide, wide @ rng.normal(size=(10, 1)), 1e-6)
    assert w.shape == (10, 1)


# --- the probe and the detector on real features ----------------------------------------------


@pytest.fixture(scope="module")
def extractor():
    return default_extractor()


def _crops(rgb: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    out = []
    for _ in range(n):
        ch, cw = int(h * rng.uniform(0.6, 0.9)), int(w * rng.uniform(0.6, 0.9))
        y, x = rng.integers(0, h - ch), rng.integers(0, w - cw)
        out.append(np.ascontiguousarray(rgb[y : y + ch, x : x + cw]))
    return out


def test_feature_maps_follow_the_analysed_size(extractor):
    fm = extractor.maps(skimage.data.chelsea(), 320)  # 451x300 -> 320x213, padded to 320x224
    assert fm.map32.shape == (1280, 7, 10) and fm.map16.shape == (112, 14, 20)
    assert fm.pooled.shape == (1280,)


def test_probe_tells_photos_apart_on_crops_it_never_saw(extractor):
    photos = {"cat": skimage.data.chelsea(), "cup": skimage.data.coffee(), "rocket": skimage.data.rocket()}  # fmt: skip
    train = [(c, name) for name, rgb in photos.items() for c in _crops(rgb, 4, 0)]
    probe = classifier.train(
        extractor, [c for c, _ in train], [{n} for _, n in train], list(photos)
    )
    assert not probe.multi_label and not probe.prototypes
    for name, rgb in photos.items():
        for crop in _crops(rgb, 2, 99):
            scores = probe.classify(extractor, crop)
            assert list(photos)[int(scores.argmax())] == name
            assert scores.sum() == pytest.approx(1.0, abs=1e-5)


def test_probe_goes_multi_label_when_an_image_has_two_labels(extractor):
    cat, cup = skimage.data.chelsea(), skimage.data.coffee()
    images = _crops(cat, 3, 0) + _crops(cup, 3, 1) + [np.concatenate([cat[:300, :400], cup[:300, :400]], 1)]  # fmt: skip
    truth = [{"cat"}] * 3 + [{"cup"}] * 3 + [{"cat", "cup"}]
    probe = classifier.train(extractor, images, truth, ["cat", "cup"])
    assert probe.multi_label
    assert probe.classify(extractor, _crops(cat, 1, 5)[0])[0] > 0.5


def test_probe_falls_back_to_prototypes_with_one_image_a_label(extractor):
    probe = classifier.train(extractor, [skimage.data.chelsea(), skimage.data.coffee()], [{"cat"}, {"cup"}], ["cat", "cup"])  # fmt: skip
    assert probe.prototypes
    assert probe.classify(extractor, _crops(skimage.data.coffee(), 1, 3)[0]).argmax() == 1


def _scene(rng: np.random.Generator, obj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 480x360 background crop with the object pasted at a random place and size."""
    bg = skimage.data.astronaut() if rng.random() < 0.5 else skimage.data.rocket()
    canvas = np.ascontiguousarray(bg[:360, :480]).copy()
    side = int(rng.uniform(70, 140))
    import cv2

    patch = cv2.resize(obj, (side, side))
    x, y = int(rng.integers(0, 480 - side)), int(rng.integers(0, 360 - side))
    canvas[y : y + side, x : x + side] = patch
    return canvas, np.array([[x, y, x + side, y + side]], float)


def test_detector_head_finds_an_object_in_a_scene_it_never_saw(extractor):
    rng = np.random.default_rng(0)
    cat = skimage.data.chelsea()[30:280, 100:350]
    train = [detector.Annotated(*_scene(rng, cat), np.array([0])) for _ in range(6)]
    head = detector.train(extractor, train, ["cat"])
    rgb, gt = _scene(np.random.default_rng(7), cat)
    found = head.detect(extractor, rgb)
    assert len(found.scores) and found.classes[0] == 0
    assert metrics.iou_matrix(found.boxes[:1], gt)[0, 0] >= 0.5


# --- the model file ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(extractor) -> core.Result:
    photos = {"cat": skimage.data.chelsea(), "cup": skimage.data.coffee()}
    train = [core.LabelledImage(c, {n}) for n, rgb in photos.items() for c in _crops(rgb, 3, 0)]
    test = [core.LabelledImage(c, {n}) for n, rgb in photos.items() for c in _crops(rgb, 2, 9)]
    return core.train_classifier(extractor, train, test, list(photos))


def test_training_returns_thresholds_chosen_on_the_test_images(trained):
    assert set(trained.model.thresholds) == {"cat", "cup"}
    assert all(0 < t <= 1 for t in trained.model.thresholds.values())
    assert trained.evaluation.f1 == 1.0
    assert trained.test_scores.shape == (4, 2)


def test_model_file_round_trip_predicts_the_same(tmp_path: Path, trained, extractor):
    path = tmp_path / "models" / "m.npz"
    model.save(trained.model, path)
    loaded = model.load(path)
    assert loaded.labels == trained.model.labels
    assert loaded.thresholds == trained.model.thresholds
    rgb = skimage.data.chelsea()
    assert loaded.predict(extractor, rgb) == trained.model.predict(extractor, rgb)
    assert [p.name for p in path.parent.iterdir()] == ["m.npz"]  # no temporary left behind


def test_detector_model_file_round_trip(tmp_path: Path, extractor):
    rng = np.random.default_rng(3)
    cup = skimage.data.coffee()[50:350, 150:450]
    train = [core.BoxedImage(*(lambda s: (s[0], [tuple(s[1][0])], ["cup"]))(_scene(rng, cup))) for _ in range(3)]  # fmt: skip
    result = core.train_detector(extractor, train, train[:1], ["cup"])
    model.save(result.model, tmp_path / "d.npz")
    loaded = model.load(tmp_path / "d.npz")
    rgb = train[0].rgb
    assert loaded.predict(extractor, rgb) == result.model.predict(extractor, rgb)
    assert all(p.box is not None for p in loaded.predict(extractor, rgb))


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path, trained, monkeypatch):
    path = tmp_path / "m.npz"
    model.save(trained.model, path)
    before = path.read_bytes()

    def crash(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        model.save(trained.model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_damaged_or_newer_files_are_refused_with_a_reason(tmp_path: Path, trained, monkeypatch):
    data = model.to_bytes(trained.model)
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(model.ModelFileError, match="not a custom model file"):
        model.load(tmp_path / "cut.npz")
    with monkeypatch.context() as m:  # a file written by a later release
        m.setattr(model, "FORMAT_VERSION", model.FORMAT_VERSION + 1)
        newer = model.to_bytes(trained.model)
    with pytest.raises(model.ModelFileError, match="newer"):
        model.from_bytes(newer)
    with pytest.raises(model.ModelFileError, match="cannot read"):
        model.load(tmp_path / "missing.npz")


# --- moderation adapters ---------------------------------------------------------------------


def test_adapter_learns_a_label_the_base_model_misses_and_keeps_the_others(extractor, tmp_path):
    from rekognition_emulator.models.custom import adapter

    cat, cup = skimage.data.chelsea(), skimage.data.coffee()
    images = _crops(cat, 4, 0) + _crops(cup, 4, 1)
    feats = extractor.pooled(images)
    # The base model sees "Drugs" a little everywhere and nothing of what the user calls
    # "Rude Gesture" (here: the cat photos).
    base = [{"Drugs": 30.0, "Violence": 5.0}] * 8
    truth = [{"Rude Gesture"}] * 4 + [set()] * 4
    trained = adapter.train(feats, base, truth, ["Drugs", "Violence"])
    test_cat, test_cup = extractor.pooled([_crops(cat, 1, 7)[0], _crops(cup, 1, 7)[0]])
    on_cat = trained.rescore(test_cat, {"Drugs": 30.0, "Violence": 5.0})
    on_cup = trained.rescore(test_cup, {"Drugs": 30.0, "Violence": 5.0})
    assert on_cat["Rude Gesture"] > 50 > on_cup["Rude Gesture"]
    assert on_cat["Drugs"] == 30.0 and on_cat["Violence"] == 5.0
    saved = model.TrainedModel(
        model.ADAPTER, trained.labels, {"Rude Gesture": 0.5}, adapter=trained
    )
    model.save(saved, tmp_path / "a.npz")
    loaded = model.load(tmp_path / "a.npz").adapter
    assert loaded.rescore(test_cat, {"Drugs": 30.0}) == trained.rescore(test_cat, {"Drugs": 30.0})
