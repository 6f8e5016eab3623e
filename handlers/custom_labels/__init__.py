"""Rekognition Custom Labels: projects, datasets, training, models, policies, adapters.

The AWS side of custom models (the training itself is `models.custom`):
- `manifest`: Ground Truth manifest lines, with the service's per-line errors;
- `datasets`: dataset statistics, label counts, filters, updates, the 80/20 split;
- `training`: from dataset entries to a trained model and the files AWS writes;
- `adapters`: the same for a moderation adapter;
- `evaluation`: those files' formats (evaluation summary, manifest summary, snapshots);
- `lifecycle`: statuses and which operation is legal in which;
- `policy`: project policy documents and who they let copy a model;
- `service`: the server's Custom Labels state (store scope, model files, loaded models).

The operations, registered by name:
- `projects`: CreateProject, DescribeProjects, DeleteProject, Put/List/DeleteProjectPolicy;
- `dataset_ops`: CreateDataset, DescribeDataset, ListDatasetEntries, ListDatasetLabels,
  UpdateDatasetEntries, DistributeDatasetEntries, DeleteDataset;
- `versions`: CreateProjectVersion, DescribeProjectVersions, Start/Stop/Delete/
  CopyProjectVersion;
- `detect`: DetectCustomLabels;
- `moderation_adapter`: `adapter_for(ctx, arn)`, what DetectModerationLabels does with an
  adapter (ProjectVersion).
"""

from rekognition_emulator.handlers.custom_labels import (  # noqa: F401 - registers the operations
    dataset_ops,
    detect,
    projects,
    versions,
)
from rekognition_emulator.handlers.custom_labels.moderation_adapter import adapter_for

__all__ = ["adapter_for"]
