"""Moderation adapters at inference: what DetectModerationLabels (and a moderation video or
media analysis job) does with a `ProjectVersion`.

    adapter = adapter_for(ctx, project_version_arn)   # ctx: a RequestContext or JobContext
    adapter.detect(rgb, min_confidence=50.0)          # DetectModerationLabels' answer
    adapter.labels(rgb, sig, min_confidence)          # ModerationLabels from the signals
    adapter.confidences(rgb, base)                    # every label 0..100, re-scored

An adapter is a TRAINING_COMPLETED version of a CONTENT_MODERATION project (adapters are
never started). It re-scores the labels its training images used from the image's pooled
features and the base model's confidences (models.custom.adapter); every other label keeps
the base model's confidence, and a parent is again at least as confident as its children.
The base model is handlers/analysis/moderation.py, the model DetectModerationLabels runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.handlers.analysis import moderation
from rekognition_emulator.handlers.custom_labels import lifecycle
from rekognition_emulator.handlers.custom_labels.projects import CONTENT_MODERATION
from rekognition_emulator.handlers.custom_labels.service import service
from rekognition_emulator.models.custom.features import FeatureExtractor
from rekognition_emulator.models.custom.model import ModelFileError, TrainedModel

# The statuses in which an adapter can be used (it holds trained weights).
USABLE = {lifecycle.TRAINING_COMPLETED, lifecycle.COPYING_COMPLETED, lifecycle.DEPRECATED}


class Caller(Protocol):
    """What adapter_for needs of a request or a job: whose it is and the server."""

    account: str
    region: str
    state: Any


@lru_cache(maxsize=1)
def _base_labels() -> tuple[str, ...]:
    return tuple(moderation.taxonomy())


def base_labels() -> list[str]:
    """Every label of the base model (the v7 taxonomy)."""
    return list(_base_labels())


def base_confidences(rgb: np.ndarray) -> dict[str, float]:
    """The base model's confidence (0..100) of every label it sees in `rgb`, parents included."""
    return moderation.with_parents(moderation.label_confidences(moderation.signals(rgb)))


@dataclass(frozen=True)
class ModerationAdapter:
    project_version_arn: str
    model: TrainedModel
    extractor: FeatureExtractor

    def confidences(self, rgb: np.ndarray, base: dict[str, float]) -> dict[str, float]:
        """`base` (every label's base confidence, parents included) re-scored by the adapter."""
        assert self.model.adapter is not None
        rescored = self.model.adapter.rescore(self.extractor.pooled([rgb])[0], base)
        return moderation.with_parents({k: v for k, v in rescored.items() if v > 0.0})

    def labels(
        self, rgb: np.ndarray, sig: moderation.Signals, min_confidence: float
    ) -> list[dict[str, object]]:
        base = moderation.with_parents(moderation.label_confidences(sig))
        return moderation.labels_from_confidences(self.confidences(rgb, base), min_confidence)

    def detect(
        self, rgb: np.ndarray, min_confidence: float, *, nudenet: bool = False
    ) -> dict[str, object]:
        """DetectModerationLabels' answer for one frame, through the adapter; `nudenet`: the
        server's opt-in setting (Config.nudenet)."""
        sig = moderation.signals(rgb, nudenet=nudenet)
        return {
            "ModerationLabels": self.labels(rgb, sig, min_confidence),
            "ModerationModelVersion": moderation.MODERATION_MODEL_VERSION,
            "ProjectVersion": self.project_version_arn,
            "ContentTypes": moderation.content_types(sig, min_confidence),
        }


def adapter_for(ctx: Caller, project_version_arn: str) -> ModerationAdapter:
    """The caller's adapter `project_version_arn`, loaded; ResourceNotFoundException when it
    does not exist, InvalidParameterException for a Custom Labels model, and
    ResourceNotReadyException while it is not trained."""
    svc = service(ctx.state)
    projects = svc.scope(ctx.account, ctx.region)
    try:
        version = projects.version(project_version_arn)
    except errors.ResourceNotFoundException:
        raise errors.ResourceNotFoundException(
            f"The moderation adapter (project version) {project_version_arn} does not exist."
        ) from None
    project = projects.project_by_pk(version.project_pk)
    if project.feature != CONTENT_MODERATION:
        raise errors.InvalidParameterException(
            f"{project_version_arn} is a Custom Labels model, not a moderation adapter: use it "
            "with DetectCustomLabels."
        )
    if version.status not in USABLE:
        raise errors.ResourceNotReadyException(
            f"The moderation adapter {project_version_arn} is not ready: its status is "
            f"{version.status}."
        )
    try:
        model = svc.model(version)
    except ModelFileError as exc:
        raise errors.InternalServerError(f"The adapter {project_version_arn} cannot be loaded: {exc}") from None  # fmt: skip
    return ModerationAdapter(version.arn, model, svc.extractor)
