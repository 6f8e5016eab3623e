"""Custom models trained on the user's images, on the CPU, in seconds.

- `features`: frozen EfficientNet-Lite0 (pooled vectors and activation maps, any size).
- `classifier`: a linear probe for image classification (single- and multi-label).
- `detector`: a Fast R-CNN style head (anchors, region features, box regression, NMS).
- `metrics`: per-label thresholds, precision/recall/F1, AP and AR, as the evaluation reports.
- `model`: a trained model as one object and one atomically written, versioned file.
- `training`: train + evaluate in one call.

Knows nothing of AWS: `handlers/custom_labels/` turns manifests into these calls.
"""
