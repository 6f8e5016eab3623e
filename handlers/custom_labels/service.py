"""The server's Custom Labels service: its resources, trained model files and loaded models.

    svc = service(ctx.state)            # one per server (AppState singleton)
    projects = svc.scope(ctx.account, ctx.region)   # emulator.store.projects.Projects

Model files live in `<data dir>/custom_labels/<version pk>.npz`, written atomically
(models.custom.model.save) before the version's status says they exist. A model is loaded
once, when first used (a RUNNING model after a restart loads on its first
DetectCustomLabels, or DetectModerationLabels for an adapter), and kept until it is stopped
or deleted.

At start (`registry.on_start`) the service exists before any request, so an admin reset
wipes it too, and resources left in a working status by a job that no longer exists (the
engine re-queues every unfinished job, so this is for the rare job that ended without
finishing its resource) are settled.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rekognition_emulator.emulator.server.registry import on_start
from rekognition_emulator.emulator.store import database
from rekognition_emulator.emulator.store import projects as records
from rekognition_emulator.emulator.store.tokens import PageTokens, load_secret
from rekognition_emulator.handlers.custom_labels import lifecycle
from rekognition_emulator.models.custom import model as model_file
from rekognition_emulator.models.custom.features import FeatureExtractor, default_extractor
from rekognition_emulator.models.custom.model import TrainedModel

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

log = logging.getLogger("rekognition_emulator.custom_labels")
SERVICE_KEY = "custom-labels"
T = TypeVar("T")


def now() -> float:
    """The time stamped on a new resource: its CreationTimestamp, and the milliseconds its
    ARN ends in. (The one place Custom Labels reads the clock for an identifier.)"""
    return time.time()


def millis(when: float) -> int:
    return int(when * 1000)


class CustomLabels:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.db = database(state)
        self.root = Path(state.config.data_dir) / "custom_labels"
        self._models: dict[int, TrainedModel] = {}
        self._lock = threading.Lock()
        self._extractor: FeatureExtractor | None = None
        self._tokens = PageTokens(load_secret(Path(state.config.data_dir) / "pagination.key"))

    def scope(self, account: str, region: str) -> records.Projects:
        return records.Projects(self.db, account, region)

    def page(
        self,
        member: str,
        purpose: list[object],
        items: list[T],
        params: dict[str, Any],
        default_max: int,
        shape: Callable[[T], Any] = lambda item: item,
    ) -> dict[str, Any]:
        """A List/Describe call's answer: one page of `items` (each through `shape`) as
        `member`, and the NextToken of the next page. The token is good only for the same
        operation, caller and filters (`purpose`)."""
        scope = json.dumps(purpose, sort_keys=True, default=str)
        token = params.get("NextToken")
        start = self._tokens.read(scope, token) if token else 0
        size = params.get("MaxResults") or default_max
        out: dict[str, Any] = {member: [shape(item) for item in items[start : start + size]]}
        if start + size < len(items):
            out["NextToken"] = self._tokens.issue(scope, start + size)
        return out

    # -- models -------------------------------------------------------------------------------
    @property
    def extractor(self) -> FeatureExtractor:
        if self._extractor is None:
            self._extractor = default_extractor()
        return self._extractor

    def model_path(self, version_pk: int) -> Path:
        return self.root / f"{version_pk}.npz"

    def save_model(self, version_pk: int, model: TrainedModel) -> str:
        """Write the model's file (atomically); returns its path relative to the data dir."""
        path = self.model_path(version_pk)
        model_file.save(model, path)
        return str(path.relative_to(self.state.config.data_dir))

    def model(self, version: records.Version) -> TrainedModel:
        """The version's trained model, loaded on first use (ModelFileError if it cannot be)."""
        with self._lock:
            cached = self._models.get(version.pk)
        if cached is not None:
            return cached
        if not version.model_file:
            raise model_file.ModelFileError(f"the model version {version.arn} has no model file")
        loaded = model_file.load(Path(self.state.config.data_dir) / version.model_file)
        with self._lock:
            return self._models.setdefault(version.pk, loaded)

    def unload(self, version_pk: int) -> None:
        with self._lock:
            self._models.pop(version_pk, None)

    def remove_model(self, version: records.Version) -> None:
        self.unload(version.pk)
        if version.model_file:
            (Path(self.state.config.data_dir) / version.model_file).unlink(missing_ok=True)

    # -- life ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """The admin reset: every project, dataset, version and model file."""
        records.wipe(self.db)
        with self._lock:
            self._models.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def settle_orphans(self, open_versions: set[int], open_datasets: set[int]) -> None:
        """Resources in a working status whose job is gone end as that job would have
        ended when it failed; the others are left to their (re-queued) jobs."""
        interrupted = "The operation was interrupted (the emulator stopped) and cannot resume."
        for version in records.versions_in(self.db, (lifecycle.TRAINING_IN_PROGRESS, lifecycle.COPYING_IN_PROGRESS, lifecycle.STARTING)):  # fmt: skip
            if version.pk in open_versions:
                continue
            scope = self.scope(*self._owner(version.project_pk))
            end = {
                lifecycle.TRAINING_IN_PROGRESS: lifecycle.TRAINING_FAILED,
                lifecycle.COPYING_IN_PROGRESS: lifecycle.COPYING_FAILED,
                lifecycle.STARTING: lifecycle.FAILED,
            }[version.status]
            scope.update_version(version.pk, {version.status}, status=end, status_message=interrupted)  # fmt: skip
            log.warning("model version %s: %s -> %s (its job is gone)", version.arn, version.status, end)  # fmt: skip
        rows = (
            self.db.reader()
            .execute(
                "SELECT d.pk, d.status, p.account, p.region FROM cl_datasets d "
                "JOIN cl_projects p ON p.pk = d.project_pk WHERE d.status IN (?, ?, ?)",
                (
                    lifecycle.CREATE_IN_PROGRESS,
                    lifecycle.UPDATE_IN_PROGRESS,
                    lifecycle.DELETE_IN_PROGRESS,
                ),  # fmt: skip
            )
            .fetchall()
        )
        for pk, status, account, region in rows:
            if pk in open_datasets:
                continue
            scope = self.scope(account, region)
            if status == lifecycle.DELETE_IN_PROGRESS:
                scope.delete_dataset(pk)
                continue
            failed = lifecycle.CREATE_FAILED if status == lifecycle.CREATE_IN_PROGRESS else lifecycle.UPDATE_FAILED  # fmt: skip
            scope.finish_dataset(pk, status, failed, interrupted, lifecycle.SERVICE_ERROR, now())

    def _owner(self, project_pk: int) -> tuple[str, str]:
        row = (
            self.db.reader()
            .execute("SELECT account, region FROM cl_projects WHERE pk = ?", (project_pk,))
            .fetchone()
        )
        return (row[0], row[1]) if row else ("", "")


def service(state: AppState) -> CustomLabels:
    return state.singleton(SERVICE_KEY, lambda: CustomLabels(state))


@on_start
def _start(state: AppState) -> None:
    from rekognition_emulator.emulator.jobs import IN_PROGRESS, engine

    svc = service(state)
    jobs = engine(state).list(status=IN_PROGRESS, limit=1_000_000)
    open_versions = {j.params.get("version_pk") for j in jobs if "version_pk" in j.params}
    open_datasets = {pk for j in jobs for pk in j.params.get("dataset_pks", [])}
    svc.settle_orphans(open_versions, open_datasets)  # type: ignore[arg-type]
