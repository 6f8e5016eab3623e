"""Rekognition Custom Labels: projects, datasets, training, models, policies, adapters.

The AWS side of custom models (the training itself is `models.custom`):
- `manifest`: Ground Truth manifest lines, with the service's per-line errors;
- `datasets`: dataset statistics, label counts, filters, updates, the 80/20 split;
- `training`: from dataset entries to a trained model and the files AWS writes;
- `evaluation`: those files' formats (evaluation summary, manifest summary, snapshots);
- `lifecycle`: statuses and which operation is legal in which;
- `policy`: project policy documents and who they let copy a model.
"""
