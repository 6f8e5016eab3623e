"""SFace (int8bq) as shipped: strip the graph inputs that are not real inputs.

The shipped graph lists every initializer as a graph input, plus 29 float weight inputs that no
node reads (left over from quantization). OpenCV 5's FaceRecognizerSF then refuses the model
("empty name can only be used to set input if there is just one input") and onnxruntime warns and
skips constant folding. We keep only inputs that a node consumes and that are not initializers,
which leaves the single image input `data` (1x3x112x112), and drop initializers no node reads;
no node or weight that is used changes.
"""

from __future__ import annotations

from pathlib import Path

import onnx


def convert(src: Path, dst: Path) -> None:
    model = onnx.load(str(src))
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    consumed = {name for node in graph.node for name in node.input}
    real_inputs = [
        inp for inp in graph.input if inp.name not in initializers and inp.name in consumed
    ]
    if not real_inputs:
        raise ValueError(f"{src}: no graph input left after stripping initializers")
    # Protobuf repeated fields cannot be reassigned: clear and refill in the original order.
    del graph.input[:]
    graph.input.extend(real_inputs)
    # A few shape constants are read by no node either; onnxruntime warns about each on load.
    used_inits = [init for init in graph.initializer if init.name in consumed]
    del graph.initializer[:]
    graph.initializer.extend(used_inits)
    onnx.checker.check_model(model)
    # Serialising the same message built the same way gives the same bytes, so the output's
    # sha256 can be pinned in the manifest.
    dst.write_bytes(model.SerializeToString())
