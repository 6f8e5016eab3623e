"""Pure-Python converters run by the model store after extracting a file from its wheel.

Each converter is a module with `convert(src: Path, dst: Path) -> None`: read `src` (the file as
shipped, already verified), write the converted model to `dst`. It must be deterministic (same
input, same bytes out) because the store pins the output's sha256 in the manifest. It must not
need torch or TensorFlow: only numpy, onnx and h5py, which are runtime dependencies.
"""

from pathlib import Path


def save(model, dst: Path) -> None:
    """Write the ONNX `model` to `dst` atomically, serialised deterministically (the output's
    sha256 is pinned in the manifest)."""
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_bytes(model.SerializeToString(deterministic=True))
    tmp.replace(dst)


def pinned_model(graph, props: dict[str, str]):
    """The ONNX model of `graph` with what must not depend on the installed onnx fixed (opset
    13, IR version 7, producer), `props` as its metadata, checked."""
    import onnx
    from onnx import helper

    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="rekognition-emulator",
        producer_version="1",
    )
    model.ir_version = 7
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    return model
