"""The label and text models on their own (no server): converters, classifier, properties, OCR."""

from __future__ import annotations

import collections
import io
import json
import pickle
import struct
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from rekognition_emulator.handlers._label_taxonomy import taxonomy
from rekognition_emulator.models.convert import efficientnet_lite, tfjs_graph
from rekognition_emulator.models.labels import properties as props
from tests import groundtruth as gt

REPO = Path(__file__).resolve().parent.parent


# --- legacy torch checkpoint reader ----------------------------------------------------------


def _legacy_checkpoint(tensors: dict[str, np.ndarray], transpose: set[str]) -> bytes:
    """Write `tensors` in PyTorch's legacy (pre-1.6) format without torch.

    Tensors named in `transpose` are stored as the transposed view of a contiguous storage,
    the way the real EfficientNet file keeps TF's channel-last layout.
    """
    torch_mod, utils_mod = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:  # stands for torch.FloatStorage, pickled by reference
        pass

    def _rebuild_tensor_v2(*args):  # pragma: no cover - never called, only referenced
        raise AssertionError

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch_mod.FloatStorage, utils_mod._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    torch_mod._utils = utils_mod

    class Storage:
        def __init__(self, key: str, data: np.ndarray) -> None:
            self.key, self.data = key, data

    class Tensor:
        def __init__(self, storage, shape, stride) -> None:
            self.args = (storage, 0, shape, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.data.size, None)
            return None

    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch_mod, "torch._utils": utils_mod})
    try:
        storages, state = [], collections.OrderedDict()
        for i, (name, arr) in enumerate(tensors.items()):
            if name in transpose:  # store arr.T contiguously, describe arr as its transpose
                data = np.ascontiguousarray(arr.T).astype("<f4").ravel()
                stride = tuple(int(s) for s in np.cumprod((1,) + arr.shape[:-1]))
            else:
                data = np.ascontiguousarray(arr).astype("<f4").ravel()
                stride = tuple(int(s) for s in np.cumprod((1,) + arr.shape[::-1][:-1])[::-1])
            st = Storage(str(1000 + i), data)
            storages.append(st)
            state[name] = Tensor(st, arr.shape, stride)
        buf = io.BytesIO()
        for header in (efficientnet_lite._LEGACY_MAGIC, efficientnet_lite._LEGACY_PROTOCOL):
            pickle.dump(header, buf, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True}, buf, protocol=2)
        P(buf, protocol=2).dump(state)
        pickle.dump([s.key for s in storages], buf, protocol=2)
        for s in storages:
            buf.write(struct.pack("<q", s.data.size) + s.data.tobytes())
        return buf.getvalue()
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_legacy_reader_honours_strides(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    path = tmp_path / "x.pth"
    path.write_bytes(_legacy_checkpoint({"a": a, "b": b}, transpose={"a"}))
    out = efficientnet_lite.read_legacy_state_dict(path)
    assert list(out) == ["a", "b"]
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["b"], b)


def test_legacy_reader_refuses_foreign_code(tmp_path):
    buf = io.BytesIO()
    for header in (efficientnet_lite._LEGACY_MAGIC, efficientnet_lite._LEGACY_PROTOCOL, {}):
        pickle.dump(header, buf, protocol=2)
    pickle.dump(subprocess.Popen, buf, protocol=2)  # a global that must never be resolved
    path = tmp_path / "evil.pth"
    path.write_bytes(buf.getvalue())
    with pytest.raises(pickle.UnpicklingError):
        efficientnet_lite.read_legacy_state_dict(path)


# --- TFJS graph converter ----------------------------------------------------------------------


def test_tfjs_converter_matches_numpy():
    import onnxruntime as ort

    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)  # HWIO
    bias = rng.standard_normal(4).astype(np.float32)

    def const(name):
        return {"name": name, "op": "Const", "attr": {}}

    graph = {
        "node": [
            {"name": "in", "op": "Placeholder",
             "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "6"}, {"size": "6"}, {"size": "2"}]}}}},
            const("w"), const("bias"), const("alpha_pads"),
            {"name": "pad", "op": "Pad", "input": ["in", "alpha_pads"]},
            {"name": "conv", "op": "Conv2D", "input": ["pad", "w"],
             "attr": {"strides": {"list": {"i": ["1", "1", "1", "1"]}},
                      "padding": {"s": "VkFMSUQ="}, "data_format": {"s": "TkhXQw=="}}},
            {"name": "add", "op": "AddV2", "input": ["conv", "bias"]},
            {"name": "act", "op": "LeakyRelu", "input": ["add"], "attr": {"alpha": {"f": 0.1}}},
            {"name": "out", "op": "Identity", "input": ["act"]},
        ]
    }  # fmt: skip
    pads = np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)
    model = tfjs_graph.build_onnx(
        graph, {"w": w, "bias": bias, "alpha_pads": pads}, ["out"], {"out": [1, 6, 6, 4]}
    )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.standard_normal((1, 6, 6, 2)).astype(np.float32)
    got = session.run(None, {"in": x})[0]
    xp = np.pad(x, pads)
    ref = np.zeros((1, 6, 6, 4), np.float32)
    for i in range(6):
        for j in range(6):
            ref[0, i, j] = np.tensordot(xp[0, i : i + 3, j : j + 3], w, axes=3)
    ref = ref + bias
    ref = np.where(ref > 0, ref, 0.1 * ref)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_tfjs_weights_dequantise_float16():
    manifest = [
        {
            "paths": ["a.bin"],
            "weights": [
                {"name": "h", "shape": [2], "dtype": "float32",
                 "quantization": {"dtype": "float16", "original_dtype": "float32"}},
                {"name": "i", "shape": [1], "dtype": "int32"},
            ],
        }
    ]  # fmt: skip
    data = np.array([1.5, -2.0], "<f2").tobytes() + np.array([7], "<i4").tobytes()
    out = tfjs_graph.read_weights(manifest, {"a.bin": data})
    assert out["h"].dtype == np.float32 and out["h"].tolist() == [1.5, -2.0]
    assert out["i"].tolist() == [7]
    json.dumps(manifest)  # the manifest is plain JSON, as in model.json


# --- the real models ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier():
    from rekognition_emulator.models import labels as scene

    return scene.default_classifier()


def test_classifier_knows_espresso_and_cats(classifier):
    coffee = classifier.classify(skimage.data.coffee()).probs[0]
    assert int(coffee.argmax()) == 967  # espresso
    cat = classifier.classify(skimage.data.chelsea()).probs[0]
    assert set(np.argsort(-cat)[:3].tolist()) & {281, 282, 283, 284, 285}  # cat classes


def test_taxonomy_closes_parents():
    tx = taxonomy()
    for name, info in tx.labels.items():
        for parent in info.parents:
            assert parent in tx.labels, (name, parent)
            assert set(tx.labels[parent].parents) <= set(info.parents), (name, parent)
    assert tx.membership.shape == (len(tx.names), 1000)
    assert len(tx.coco) == 80 and tx.coco[0] == "Person"


def test_label_map_is_up_to_date():
    taxonomy_dir = REPO.parent / "shared" / "design" / "taxonomy"
    if not taxonomy_dir.is_dir():
        pytest.skip("../shared/design/taxonomy is absent")
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_label_map.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_quality_measures_follow_the_pixels():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (120, 160, 3)).astype(np.uint8)
    blurred = cv2.GaussianBlur(noise, (0, 0), 3)
    q_sharp, q_blur = props.quality(noise), props.quality(blurred)
    assert q_sharp.sharpness > 90 > 40 > q_blur.sharpness
    assert q_sharp.contrast > q_blur.contrast
    assert props.quality(np.zeros((50, 50, 3), np.uint8)).brightness == 0
    assert props.quality(np.full((50, 50, 3), 255, np.uint8)).brightness == pytest.approx(100)


def test_foreground_is_the_subject():
    rng = np.random.default_rng(0)
    img = rng.integers(90, 130, (200, 300, 3)).astype(np.uint8)
    truth = np.zeros((200, 300), np.uint8)
    cv2.circle(truth, (150, 100), 55, 1, -1)
    img[truth == 1] = (200, 30, 30)
    for boxes in ((), ((80, 30, 220, 170),)):
        mask = props.foreground_mask(img, boxes)
        inter = np.logical_and(mask, truth).sum()
        union = np.logical_or(mask, truth).sum()
        assert inter / union > 0.7, (boxes, inter / union)


def test_dominant_colours_split_two_colour_image():
    img = np.zeros((100, 100, 3), np.uint8)
    img[:, :70] = (220, 20, 60)
    img[:, 70:] = (30, 60, 200)
    clusters = props.dominant_colors(img, None, k=4)
    assert clusters[0].rgb == (220, 20, 60) and clusters[0].fraction == pytest.approx(0.7, abs=0.02)
    assert clusters[1].rgb == (30, 60, 200)


def test_ocr_reads_rendered_words_left_to_right():
    from rekognition_emulator.models.ocr import reader

    img = np.full((160, 640, 3), 255, np.uint8)
    cv2.putText(img, "HELLO WORLD 42", (30, 100), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 4)
    lines = reader().read(img)
    assert len(lines) == 1
    assert [w.text for w in lines[0].words] == ["HELLO", "WORLD", "42"]
    lefts = [w.polygon[0, 0] for w in lines[0].words]
    assert lefts == sorted(lefts)
    assert all(w.confidence > 0.9 for w in lines[0].words)


def test_tfjs_resize_becomes_a_scale_and_the_input_size_free():
    import onnxruntime as ort

    graph = {
        "node": [
            {"name": "in", "op": "Placeholder",
             "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "4"}, {"size": "6"}, {"size": "2"}]}}}},
            {"name": "size", "op": "Const", "attr": {}},
            {"name": "up", "op": "ResizeBilinear", "input": ["in", "size"],
             "attr": {"half_pixel_centers": {"b": True}, "align_corners": {"b": False}}},
            {"name": "out", "op": "Identity", "input": ["up"]},
        ]
    }  # fmt: skip
    fixed = tfjs_graph.build_onnx(
        graph, {"size": np.array([8, 12], np.int32)}, ["out"], {"out": [1, 8, 12, 2]}
    )
    x = np.random.default_rng(2).standard_normal((1, 4, 6, 2)).astype(np.float32)
    before = ort.InferenceSession(fixed.SerializeToString(), providers=["CPUExecutionProvider"])
    ref = before.run(None, {"in": x})[0]
    free = tfjs_graph.spatially_dynamic(fixed, spatial_axes=(1, 2))  # NHWC here
    after = ort.InferenceSession(free.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(after.run(None, {"in": x})[0], ref, atol=1e-6)
    bigger = after.run(None, {"in": np.zeros((1, 5, 7, 2), np.float32)})[0]
    assert bigger.shape == (1, 10, 14, 2)


def test_missing_detector_model_means_no_detector(monkeypatch):
    from rekognition_emulator.models import labels as scene
    from rekognition_emulator.models import runtime
    from rekognition_emulator.models.store import ModelUnavailable

    def unavailable(name, **_):
        raise ModelUnavailable(f"{name}: npm is not installed here")

    monkeypatch.setattr(runtime, "onnx_session", unavailable)
    scene.default_detector.cache_clear()
    try:
        assert scene.default_detector() is None
    finally:
        scene.default_detector.cache_clear()


# --- the detector's second look at small people ---------------------------------------------


def test_fusion_averages_the_whole_frame_views_and_trusts_zoomed_ones():
    from rekognition_emulator.models.labels.detector import fuse

    def view(*rows):
        a = np.array(rows, np.float64).reshape(-1, 6)
        return a[:, :4], a[:, 4], a[:, 5].astype(int)

    frame = view([10, 10, 50, 90, 0.6, 0], [200, 10, 240, 90, 0.4, 0])
    mirror = view([12, 10, 52, 90, 0.5, 0], [100, 100, 120, 140, 0.35, 0])
    zoomed = view([300, 50, 310, 70, 0.5, 0])
    boxes, scores, classes = fuse([frame, mirror, zoomed], 2, 0.3)
    pairs = zip(boxes, scores, strict=True)
    got = {tuple(np.round(b).astype(int)): round(float(s), 3) for b, s in pairs}
    # Seen in both whole-frame views: the mean score, the score-weighted mean box.
    assert got[(11, 10, 51, 90)] == 0.55
    # Seen in one of the two: halved (0.4 -> 0.2 and 0.35 -> 0.175), so dropped.
    assert not any(k[0] in (100, 200) for k in got)
    # A small person from a zoomed region counts with its own score.
    assert got[(300, 50, 310, 70)] == 0.5
    assert set(classes.tolist()) == {0}


def test_regions_merge_and_stay_inside_the_image():
    from rekognition_emulator.models.labels.detector import regions_around

    seeds = np.array([[10, 10, 20, 30], [25, 12, 35, 32], [300, 200, 310, 220]], float)
    regions = regions_around(seeds, 320, 240, 1.0)
    assert len(regions) == 2  # the first two overlap once widened
    for x0, y0, x1, y1 in regions:
        assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 240


def test_second_look_only_where_there_are_small_people():
    from rekognition_emulator.models import labels as scene

    detector = scene.default_detector()
    if detector is None:
        gt.skip_or_fail("the COCO detector (NanoDet) is unavailable here: its model needs npm")
    detector.detect(skimage.data.coffee())
    assert detector.last_views == 1  # no person: one pass, the cost as before
    detector.detect(skimage.data.astronaut())
    assert detector.last_views == 1  # one large person: the first pass places it well
    crowd = cv2.resize(skimage.data.astronaut(), (64, 64), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[300:364, 100:164] = crowd
    canvas[300:364, 400:464] = crowd
    found = detector.detect(canvas)
    assert detector.last_views >= 2  # small people: the mirrored frame (and zoomed regions)
    # ... and the second look finds them: a person box on each of the two small astronauts.
    people = [d for d in found if d.class_name == "person"]
    for x0 in (100, 400):
        assert any(d.box[0] < x0 + 32 < d.box[2] and d.box[1] < 332 < d.box[3] for d in people)
