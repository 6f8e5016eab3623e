"""TensorFlow.js *layers* model (a Keras model saved for the browser) -> ONNX, without node.

Written for nsfwjs (npm `nsfwjs`, MIT), whose MobileNetV2 ships as two browserified
CommonJS files instead of model.json + .bin: `model.min.js` exports the model.json object
as a JavaScript literal (unquoted keys, `!0`/`!1` for booleans, `.5` numbers), and
`group1-shard1of1.min.js` exports the weight bytes as one base64 string. A small tokenizer
reads the literal (no JavaScript is run), the weights are dequantised (uint8: q * scale +
min), and the Keras graph builder of `models.convert.keras_h5` builds the ONNX graph from
the same Keras config it would read from an HDF5 file.

`convert_nsfwjs(src, dst)` takes the package tarball (`npm pack` output) as `src`.
"""

from __future__ import annotations

import base64
import re
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from rekognition_emulator.models.convert import save
from rekognition_emulator.models.convert.keras_h5 import _Builder, build_graph
from rekognition_emulator.models.convert.tfjs_graph import read_weights

NSFWJS_MODEL = "package/dist/models/mobilenet_v2/model.min.js"
NSFWJS_SHARD_DIR = "package/dist/models/mobilenet_v2/"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<punct>[{}\[\]:,])
      | (?P<bool>![01])
      | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<name>[A-Za-z_$][\w$]*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class JsLiteralError(ValueError):
    """The text is not the kind of JavaScript literal this reader understands."""


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out)


def parse_js_literal(text: str, start: int = 0) -> tuple[Any, int]:
    """The JavaScript object/array/scalar literal at `text[start:]`, and where it ends."""
    pos = start

    def token() -> tuple[str, str]:
        nonlocal pos
        m = _TOKEN.match(text, pos)
        if m is None:
            raise JsLiteralError(f"unexpected text at {pos}: {text[pos : pos + 30]!r}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        return kind, m.group(kind)

    def value(kind: str, tok: str) -> Any:
        if kind == "punct" and tok == "{":
            obj: dict[str, Any] = {}
            kind, tok = token()
            while not (kind == "punct" and tok == "}"):
                if kind not in ("name", "string"):
                    raise JsLiteralError(f"object key expected at {pos}, got {tok!r}")
                key = _unquote(tok) if kind == "string" else tok
                if token() != ("punct", ":"):
                    raise JsLiteralError(f"':' expected after key {key!r}")
                obj[key] = value(*token())
                kind, tok = token()
                if kind == "punct" and tok == ",":
                    kind, tok = token()
            return obj
        if kind == "punct" and tok == "[":
            arr: list[Any] = []
            kind, tok = token()
            while not (kind == "punct" and tok == "]"):
                arr.append(value(kind, tok))
                kind, tok = token()
                if kind == "punct" and tok == ",":
                    kind, tok = token()
            return arr
        if kind == "bool":
            return tok == "!0"
        if kind == "number":
            as_float = float(tok)
            return int(tok) if re.fullmatch(r"-?\d+", tok) else as_float
        if kind == "string":
            return _unquote(tok)
        if kind == "name" and tok in ("null", "true", "false"):
            return {"null": None, "true": True, "false": False}[tok]
        raise JsLiteralError(f"unexpected {tok!r} at {pos}")

    result = value(*token())
    return result, pos


def module_export(js: str) -> Any:
    """What a browserified module's `<x>.exports = <literal>` assigns (the first such)."""
    m = re.search(r"\b\w\.exports=(?=[{\[\"])", js)
    if m is None:
        raise JsLiteralError("no `exports=` literal found")
    return parse_js_literal(js, m.end())[0]


class _DictBuilder(_Builder):
    """The Keras graph builder, reading each layer's weights from a dict of full names."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__(weights)  # type: ignore[arg-type]
        self._by_layer: dict[str, dict[str, np.ndarray]] = {}
        for full, array in weights.items():
            layer, _, short = full.rpartition("/")
            self._by_layer.setdefault(layer, {})[short] = array

    def layer_weights(self, layer: str) -> dict[str, np.ndarray]:
        return dict(self._by_layer.get(layer, {}))


def build_model(model_js: str, shards: dict[str, bytes]):
    """The ONNX model of a TFJS layers model given as model.min.js text and its shards."""
    model_json = module_export(model_js)
    config = model_json["modelTopology"]["model_config"]
    weights = read_weights(model_json["weightsManifest"], shards)
    return build_graph(config, _DictBuilder(weights))


def convert_nsfwjs(src: Path, dst: Path) -> None:
    """nsfwjs' MobileNetV2 (5 classes: Drawing, Hentai, Neutral, Porn, Sexy) from the npm
    tarball at `src` to ONNX at `dst`: input NHWC 224x224 RGB scaled to 0..1."""
    with tarfile.open(src, "r:gz") as tar:
        model_js = tar.extractfile(NSFWJS_MODEL).read().decode()  # type: ignore[union-attr]
        manifest = module_export(model_js)["weightsManifest"]
        shards = {}
        for group in manifest:
            for path in group["paths"]:
                member = tar.extractfile(f"{NSFWJS_SHARD_DIR}{path}.min.js")
                encoded = module_export(member.read().decode())  # type: ignore[union-attr]
                shards[path] = base64.b64decode(encoded)
    save(build_model(model_js, shards), dst)


if __name__ == "__main__":  # python -m rekognition_emulator.models.convert.tfjs_layers SRC.tgz DST
    convert_nsfwjs(Path(sys.argv[1]), Path(sys.argv[2]))
