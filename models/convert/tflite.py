"""TFLite (float, fp16 weights) -> ONNX, in pure Python: MediaPipe's palm detector and hand
landmark model, so they run in onnxruntime with its threads instead of OpenCV's
single-threaded classic dnn engine.

The file is read with the `flatbuffers` runtime (installed with onnxruntime) through the few
TFLite schema fields the conversion needs; the schema's field numbers are written beside
each accessor. The graph is rebuilt node by node in ONNX's NCHW layout: every rank-4
activation is kept NCHW (so the converted model takes the same 1x3xHxW blob OpenCV did);
where TFLite's meaning depends on NHWC (RESHAPE, FULLY_CONNECTED, MEAN) the tensor is
transposed back first. fp16 weights (DEQUANTIZE of a constant) are folded to float32.

Supported builtin operators: ADD, CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D, DEQUANTIZE,
FULLY_CONNECTED, LOGISTIC, MAX_POOL_2D, MEAN, PAD, PRELU, RESHAPE, RESIZE_BILINEAR,
with their fused activations (RELU, RELU6, RELU_N1_TO_1, TANH). Anything else is refused
with its name, never guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# TFLite BuiltinOperator codes (schema.fbs) of the operators converted here.
OPS = {
    0: "ADD",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    6: "DEQUANTIZE",
    9: "FULLY_CONNECTED",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    34: "PAD",
    40: "MEAN",
    54: "PRELU",
}
# TensorType -> numpy
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64}
SAME, VALID = 0, 1  # Padding
NCHW_FROM_NHWC = (0, 3, 1, 2)
NHWC_FROM_NCHW = (0, 2, 3, 1)
AXIS_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}


class UnsupportedModel(ValueError):
    """The file uses something this converter does not handle."""


# --- reading the flatbuffer ----------------------------------------------------------------------


class _Table:
    """A flatbuffers table with typed field access by schema field number."""

    def __init__(self, buf: bytes, pos: int) -> None:
        from flatbuffers.table import Table

        self.t = Table(buf, pos)
        self.buf = buf

    def _offset(self, field: int) -> int:
        return self.t.Offset(4 + 2 * field)

    def scalar(self, field: int, kind: str, default: Any = 0) -> Any:
        from flatbuffers import number_types as n

        flags = {"i8": n.Int8Flags, "u8": n.Uint8Flags, "i32": n.Int32Flags, "u32": n.Uint32Flags, "bool": n.BoolFlags}  # fmt: skip
        o = self._offset(field)
        return self.t.Get(flags[kind], o + self.t.Pos) if o else default

    def string(self, field: int) -> str | None:
        o = self._offset(field)
        return self.t.String(o + self.t.Pos).decode() if o else None

    def ints(self, field: int) -> list[int]:
        o = self._offset(field)
        if not o:
            return []
        start, count = self.t.Vector(o), self.t.VectorLen(o)
        return np.frombuffer(self.buf, np.int32, count, start).tolist()

    def raw(self, field: int) -> bytes:
        o = self._offset(field)
        if not o:
            return b""
        start, count = self.t.Vector(o), self.t.VectorLen(o)
        return self.buf[start : start + count]

    def tables(self, field: int) -> list[_Table]:
        o = self._offset(field)
        if not o:
            return []
        start, count = self.t.Vector(o), self.t.VectorLen(o)
        return [_Table(self.buf, self.t.Indirect(start + 4 * k)) for k in range(count)]

    def table(self, field: int) -> _Table | None:
        o = self._offset(field)
        return _Table(self.buf, self.t.Indirect(o + self.t.Pos)) if o else None


@dataclass
class Tensor:
    name: str
    shape: list[int]
    dtype: Any
    data: np.ndarray | None  # constant contents, None for activations


@dataclass
class Op:
    name: str
    inputs: list[int]  # tensor indices, -1 for an absent optional input
    outputs: list[int]
    options: _Table | None


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]


def read(data: bytes) -> Graph:
    """The first subgraph of a .tflite file."""
    import flatbuffers

    model = _Table(data, flatbuffers.encode.Get(flatbuffers.packer.uoffset, data, 0))
    codes = []
    for code in model.tables(1):  # Model.operator_codes
        # OperatorCode: deprecated_builtin_code (0, int8), builtin_code (3, int32)
        number = max(code.scalar(0, "i8"), code.scalar(3, "i32"))
        if number not in OPS:
            raise UnsupportedModel(f"TFLite operator {number} ({code.string(1) or 'builtin'}) is not supported")  # fmt: skip
        codes.append(OPS[number])
    buffers = [b.raw(0) for b in model.tables(4)]  # Model.buffers -> Buffer.data (0)
    (subgraph, *_) = model.tables(2)  # Model.subgraphs
    tensors = []
    for t in subgraph.tables(0):  # SubGraph.tensors
        # Tensor: shape (0), type (1), buffer (2), name (3), quantization (4)
        kind = t.scalar(1, "i8")
        if kind not in DTYPES:
            raise UnsupportedModel(f"tensor type {kind} of {t.string(3)} is not supported")
        shape = t.ints(0)
        raw = buffers[t.scalar(2, "u32")]
        data = np.frombuffer(raw, DTYPES[kind]).reshape(shape).copy() if raw else None
        tensors.append(Tensor(t.string(3) or "", shape, DTYPES[kind], data))
    ops = [
        # Operator: opcode_index (0), inputs (1), outputs (2), builtin_options (4)
        Op(codes[o.scalar(0, "u32")], o.ints(1), o.ints(2), o.table(4))
        for o in subgraph.tables(3)
    ]
    return Graph(tensors, ops, subgraph.ints(1), subgraph.ints(2))


# --- building the ONNX graph ---------------------------------------------------------------------


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding of one spatial axis: (before, after), more after when odd."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.consts: dict[int, np.ndarray] = {
            i: t.data for i, t in enumerate(graph.tensors) if t.data is not None
        }
        self.count = 0

    # names
    def name(self, index: int) -> str:
        if index in self.g.outputs or index in self.g.inputs:
            return self.g.tensors[index].name
        return f"t{index}"

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, array: np.ndarray, stem: str = "c") -> str:
        from onnx import numpy_helper

        name = self.fresh(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        output = output or self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def rank(self, index: int) -> int:
        return len(self.g.tensors[index].shape)

    def value(self, index: int) -> str:
        """The ONNX name holding tensor `index` (a rank-4 activation: NCHW)."""
        if index in self.consts:
            array = self.consts[index].astype(np.float32)
            if array.ndim == 4:
                array = array.transpose(NCHW_FROM_NHWC)
            return self.const(array)
        return self.name(index)

    def nhwc(self, index: int) -> str:
        """Tensor `index` in TFLite's own layout (a rank-4 activation transposed back)."""
        if index in self.consts:
            return self.const(self.consts[index].astype(np.float32))
        name = self.name(index)
        if self.rank(index) == 4:
            return self.node("Transpose", [name], perm=list(NHWC_FROM_NCHW))
        return name

    def store(self, result: str, index: int, *, from_nhwc: bool = False) -> None:
        """Make `result` the value of tensor `index` (NCHW when rank 4)."""
        if from_nhwc and self.rank(index) == 4:
            result = self.node("Transpose", [result], perm=list(NCHW_FROM_NHWC))
        self.node("Identity", [result], self.name(index))

    def activation(self, value: str, code: int) -> str:
        if code == 0:
            return value
        if code == 1:
            return self.node("Relu", [value])
        if code in (2, 3):
            low, high = (-1.0, 1.0) if code == 2 else (0.0, 6.0)
            lo = self.const(np.array(low, np.float32))
            hi = self.const(np.array(high, np.float32))
            return self.node("Clip", [value, lo, hi])
        if code == 4:
            return self.node("Tanh", [value])
        raise UnsupportedModel(f"fused activation {code} is not supported")

    # operators
    def convert(self, op: Op) -> None:
        if op.name == "DEQUANTIZE":
            (src,) = op.inputs
            if src in self.consts:
                self.consts[op.outputs[0]] = self.consts[src].astype(np.float32)
                return
            self.store(self.node("Cast", [self.value(src)], to=1), op.outputs[0])
            return
        handler = getattr(self, "op_" + op.name.lower(), None)
        if handler is None:
            raise UnsupportedModel(f"TFLite operator {op.name} is not supported")
        handler(op)

    def _conv(self, op: Op, depthwise: bool) -> None:
        x, w, b = (op.inputs + [-1])[:3]
        o = op.options
        assert o is not None
        padding, stride_w, stride_h = o.scalar(0, "i8"), o.scalar(1, "i32"), o.scalar(2, "i32")
        if depthwise:
            act, dil_w, dil_h = o.scalar(4, "i8"), o.scalar(5, "i32", 1), o.scalar(6, "i32", 1)
        else:
            act, dil_w, dil_h = o.scalar(3, "i8"), o.scalar(4, "i32", 1), o.scalar(5, "i32", 1)
        weights = self.consts[w].astype(np.float32)
        _, in_h, in_w, in_c = self.g.tensors[x].shape
        if depthwise:  # [1, kh, kw, C*M] -> [C*M, 1, kh, kw], one group per input channel
            kernel = weights.transpose(3, 0, 1, 2)
            groups = in_c
        else:  # [O, kh, kw, I] -> [O, I, kh, kw]
            kernel = weights.transpose(0, 3, 1, 2)
            groups = 1
        kh, kw = kernel.shape[2:]
        pads = [0, 0, 0, 0]
        if padding == SAME:
            top, bottom = _same_pads(in_h, kh, stride_h, dil_h)
            left, right = _same_pads(in_w, kw, stride_w, dil_w)
            pads = [top, left, bottom, right]
        inputs = [self.value(x), self.const(kernel, "w")]
        if b >= 0:
            inputs.append(self.const(self.consts[b].astype(np.float32), "b"))
        out = self.node(
            "Conv",
            inputs,
            kernel_shape=[kh, kw],
            strides=[stride_h, stride_w],
            dilations=[dil_h, dil_w],
            pads=pads,
            group=groups,
        )
        self.store(self.activation(out, act), op.outputs[0])

    def op_conv_2d(self, op: Op) -> None:
        self._conv(op, depthwise=False)

    def op_depthwise_conv_2d(self, op: Op) -> None:
        self._conv(op, depthwise=True)

    def op_max_pool_2d(self, op: Op) -> None:
        o = op.options
        assert o is not None
        padding, stride_w, stride_h = o.scalar(0, "i8"), o.scalar(1, "i32"), o.scalar(2, "i32")
        fw, fh, act = o.scalar(3, "i32"), o.scalar(4, "i32"), o.scalar(5, "i8")
        (x,) = op.inputs
        _, in_h, in_w, _ = self.g.tensors[x].shape
        pads = [0, 0, 0, 0]
        if padding == SAME:
            top, bottom = _same_pads(in_h, fh, stride_h)
            left, right = _same_pads(in_w, fw, stride_w)
            pads = [top, left, bottom, right]
        out = self.node(
            "MaxPool",
            [self.value(x)],
            kernel_shape=[fh, fw],
            strides=[stride_h, stride_w],
            pads=pads,
        )
        self.store(self.activation(out, act), op.outputs[0])

    def _broadcast_const(self, index: int, other: int) -> str:
        """A constant operand of an elementwise op beside the activation `other`."""
        array = self.consts[index].astype(np.float32)
        if self.rank(other) == 4 and array.ndim >= 1:
            array = array.reshape((1,) * (4 - array.ndim) + array.shape).transpose(NCHW_FROM_NHWC)
        return self.const(array)

    def op_add(self, op: Op) -> None:
        a, b = op.inputs
        act = op.options.scalar(0, "i8") if op.options is not None else 0
        left = self._broadcast_const(a, b) if a in self.consts else self.value(a)
        right = self._broadcast_const(b, a) if b in self.consts else self.value(b)
        self.store(self.activation(self.node("Add", [left, right]), act), op.outputs[0])

    def op_prelu(self, op: Op) -> None:
        x, alpha = op.inputs
        if self.rank(x) == 4:  # ONNX broadcasts the slope unidirectionally: drop the batch axis
            array = self.consts[alpha].astype(np.float32)
            array = array.reshape((1,) * (4 - array.ndim) + array.shape).transpose(NCHW_FROM_NHWC)
            slope = self.const(array[0])
        else:
            slope = self.value(alpha)
        self.store(self.node("PRelu", [self.value(x), slope]), op.outputs[0])

    def op_logistic(self, op: Op) -> None:
        self.store(self.node("Sigmoid", [self.value(op.inputs[0])]), op.outputs[0])

    def op_pad(self, op: Op) -> None:
        x, paddings = op.inputs
        p = self.consts[paddings].astype(np.int64)
        if self.rank(x) == 4:
            order = list(NCHW_FROM_NHWC)
            pads = [p[a, 0] for a in order] + [p[a, 1] for a in order]
        else:
            pads = list(p[:, 0]) + list(p[:, 1])
        out = self.node("Pad", [self.value(x), self.const(np.array(pads, np.int64), "pads")])
        self.store(out, op.outputs[0])

    def op_resize_bilinear(self, op: Op) -> None:
        x, size = op.inputs
        o = op.options
        align, half = (o.scalar(2, "bool", False), o.scalar(3, "bool", False)) if o else (False, False)  # fmt: skip
        n, _, _, c = self.g.tensors[x].shape
        new_h, new_w = (int(v) for v in self.consts[size])
        mode = "align_corners" if align else ("half_pixel" if half else "asymmetric")
        sizes = self.const(np.array([n, c, new_h, new_w], np.int64), "sizes")
        out = self.node(
            "Resize",
            [self.value(x), "", "", sizes],
            mode="linear",
            coordinate_transformation_mode=mode,
        )
        self.store(out, op.outputs[0])

    def op_concatenation(self, op: Op) -> None:
        o = op.options
        assert o is not None
        axis, act = o.scalar(0, "i32"), o.scalar(1, "i8")
        rank = self.rank(op.outputs[0])
        axis %= rank
        if rank == 4:
            axis = AXIS_TO_NCHW[axis]
        out = self.node("Concat", [self.value(i) for i in op.inputs], axis=axis)
        self.store(self.activation(out, act), op.outputs[0])

    def op_reshape(self, op: Op) -> None:
        shape = self.g.tensors[op.outputs[0]].shape
        target = self.const(np.array(shape, np.int64), "shape")
        out = self.node("Reshape", [self.nhwc(op.inputs[0]), target])
        self.store(out, op.outputs[0], from_nhwc=True)

    def op_fully_connected(self, op: Op) -> None:
        x, w, b = (op.inputs + [-1])[:3]
        o = op.options
        act = o.scalar(0, "i8") if o is not None else 0
        if o is not None and o.scalar(2, "bool", False):
            raise UnsupportedModel("FULLY_CONNECTED with keep_num_dims is not supported")
        weights = self.consts[w].astype(np.float32)  # [O, K]
        flat = self.node(
            "Reshape",
            [self.nhwc(x), self.const(np.array([-1, weights.shape[1]], np.int64), "shape")],
        )
        inputs = [flat, self.const(weights, "w")]
        if b >= 0:
            inputs.append(self.const(self.consts[b].astype(np.float32), "b"))
        out = self.node("Gemm", inputs, transB=1)
        self.store(self.activation(out, act), op.outputs[0])

    def op_mean(self, op: Op) -> None:
        x, axes = op.inputs
        keep = op.options.scalar(0, "bool", False) if op.options is not None else False
        out = self.node(
            "ReduceMean",
            [self.nhwc(x)],
            axes=[int(a) for a in self.consts[axes]],
            keepdims=int(bool(keep)),
        )
        self.store(out, op.outputs[0], from_nhwc=True)


def to_onnx(graph: Graph, props: dict[str, str]) -> Any:
    """The ONNX model of a TFLite graph: inputs and outputs keep their TFLite names; rank-4
    inputs are NCHW (1 x C x H x W)."""
    from onnx import TensorProto, helper

    from rekognition_emulator.models.convert import pinned_model

    builder = _Builder(graph)
    for op in graph.ops:
        builder.convert(op)

    def info(index: int, nchw: bool) -> Any:
        tensor = graph.tensors[index]
        shape = list(tensor.shape)
        if nchw and len(shape) == 4:
            shape = [shape[a] for a in NCHW_FROM_NHWC]
        return helper.make_tensor_value_info(tensor.name, TensorProto.FLOAT, shape)

    outputs = []
    for index in graph.outputs:
        if len(graph.tensors[index].shape) == 4:  # hand rank-4 outputs back in TFLite's layout
            raise UnsupportedModel("rank-4 graph outputs are not supported")
        outputs.append(info(index, nchw=False))
    onnx_graph = helper.make_graph(
        builder.nodes,
        "tflite",
        [info(i, nchw=True) for i in graph.inputs],
        outputs,
        initializer=builder.inits,
    )
    return pinned_model(onnx_graph, props)


def convert(src: Path, dst: Path) -> None:
    """A MediaPipe TFLite file as shipped -> the same network in ONNX."""
    from rekognition_emulator.models.convert import save

    graph = read(Path(src).read_bytes())
    save(to_onnx(graph, {"converted_from": "tflite"}), dst)
