"""Dev check of the EfficientNet-Lite0 converter against PyTorch (torch is NOT a dependency).

    pip install torch            # into a dev venv only
    python scripts/crosscheck_efficientnet_lite.py

1. torch.load reads the checkpoint; every array must equal what our torch-free reader gives.
2. The network is written again here in plain torch, batch norms unfolded and TF "SAME"
   padding done with F.pad, and run on real photos; the converted ONNX graph (batch norms
   folded, explicit pads) must give the same probabilities (max difference printed, < 1e-4).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rekognition_emulator.models.convert import efficientnet_lite as conv  # noqa: E402


def main() -> int:
    import skimage.data
    import torch
    import torch.nn.functional as F

    from rekognition_emulator.models.labels.classifier import ImageClassifier
    from rekognition_emulator.models.manifest import get
    from rekognition_emulator.models.runtime import onnx_session
    from rekognition_emulator.models.store import default_store

    store = default_store()
    store.path("efficientnet_lite0")
    pth = store._source_file(get("efficientnet_lite0"))  # the .pth as shipped, verified
    ours = conv.read_legacy_state_dict(pth)
    theirs = torch.load(pth, map_location="cpu", weights_only=True)
    assert list(ours) == list(theirs), "tensor names or order differ"
    for name, t in theirs.items():
        np.testing.assert_array_equal(ours[name], t.numpy(), err_msg=name)
    print(f"reader: {len(ours)} tensors identical to torch.load")

    sd = {k: v.float() for k, v in theirs.items()}

    def same_conv(x, w, stride, groups=1):
        k = w.shape[2]
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad takes the last axis first
            p, _ = conv._same_pads(size, k, stride)
            pads += p
        return F.conv2d(F.pad(x, pads), w, stride=stride, groups=groups)

    def bn(x, p):
        return F.batch_norm(
            x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"],
            sd[p + ".bias"], eps=conv.BN_EPSILON,
        )  # fmt: skip

    def forward(x):
        x = F.relu6(bn(same_conv(x, sd["_conv_stem.weight"], 2), "_bn0"))
        for blk in conv._blocks(ours):
            p = f"_blocks.{blk.index}."
            h = x
            if blk.expand:
                h = F.relu6(bn(same_conv(h, sd[p + "_expand_conv.weight"], 1), p + "_bn0"))
            w = sd[p + "_depthwise_conv.weight"]
            h = F.relu6(bn(same_conv(h, w, blk.stride, groups=w.shape[0]), p + "_bn1"))
            h = bn(same_conv(h, sd[p + "_project_conv.weight"], 1), p + "_bn2")
            x = h + x if blk.stride == 1 and blk.in_ch == blk.out_ch else h
        x = F.relu6(bn(same_conv(x, sd["_conv_head.weight"], 1), "_bn1"))
        x = x.mean(dim=(2, 3))
        return F.softmax(F.linear(x, sd["_fc.weight"], sd["_fc.bias"]), dim=1)

    photos = [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.astronaut()]
    batch = np.concatenate(
        [ImageClassifier.preprocess(p, [(0, 0, p.shape[1], p.shape[0])]) for p in photos]
    )
    with torch.no_grad():
        ref = forward(torch.from_numpy(batch)).numpy()
    got = onnx_session("efficientnet_lite0").run(None, {"input": batch})[0]
    diff = float(np.abs(ref - got).max())
    print(
        f"ONNX vs torch on {len(photos)} photos: max |dp| = {diff:.2e}; top-1 {got.argmax(1)} vs {ref.argmax(1)}"
    )
    return 0 if diff < 1e-4 and (got.argmax(1) == ref.argmax(1)).all() else 1


if __name__ == "__main__":
    sys.exit(main())
