"""Custom Labels state in the server's database (schema 3): projects, datasets and their
entries, model versions, project policies, and tags by ARN.

Plain records and SQL, scoped by (account, region) like collections: a project is found by
its ARN *and* the caller's account and region, so another account's project is as absent
here as anywhere. Status changes are compare-and-set (`expect=`): the row changes only
if it is still in a status the caller checked, in the same transaction, so two requests
racing for one resource cannot both win. What the statuses mean is the handlers' business
(handlers/custom_labels/lifecycle.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.db import Database

TAG_LIMIT = 50  # AWS's general tagging quota: user tags per resource


@dataclass(frozen=True)
class Project:
    pk: int
    account: str
    region: str
    name: str
    arn: str
    feature: str
    auto_update: str | None
    status: str
    created_at: float


@dataclass(frozen=True)
class Dataset:
    pk: int
    project_pk: int
    kind: str  # TRAIN | TEST
    arn: str
    status: str
    status_message: str
    status_code: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Version:
    pk: int
    project_pk: int
    name: str
    arn: str
    status: str
    status_message: str
    created_at: float
    request: dict[str, Any]
    result: dict[str, Any] | None
    min_units: int | None
    max_units: int | None
    model_file: str | None


@dataclass(frozen=True)
class Policy:
    name: str
    revision_id: str
    document: str
    created_at: float
    updated_at: float


_PROJECT = "pk, account, region, name, arn, feature, auto_update, status, created_at"
_DATASET = "pk, project_pk, kind, arn, status, status_message, status_code, created_at, updated_at"
_VERSION = (
    "pk, project_pk, name, arn, status, status_message, created_at, request, result, "
    "min_units, max_units, model_file"
)


def _version(row: tuple) -> Version:
    return Version(
        *row[:7],
        json.loads(row[7]),
        json.loads(row[8]) if row[8] else None,
        *row[9:],
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Projects:
    """One (account, region)'s Custom Labels resources."""

    def __init__(self, db: Database, account: str, region: str) -> None:
        self.db = db
        self.account = account
        self.region = region

    # -- projects -----------------------------------------------------------------------------
    def create_project(
        self,
        name: str,
        arn: str,
        feature: str,
        auto_update: str | None,
        status: str,
        now: float,
        tags: dict[str, str],
    ) -> Project:
        with self.db.transaction() as conn:
            taken = conn.execute(
                "SELECT 1 FROM cl_projects WHERE account = ? AND region = ? AND name = ?",
                (self.account, self.region, name),
            ).fetchone()
            if taken:
                raise errors.ResourceInUseException(f"The project {name} already exists.")
            (pk,) = conn.execute(
                "INSERT INTO cl_projects (account, region, name, arn, feature, auto_update, "
                "status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
                (self.account, self.region, name, arn, feature, auto_update, status, now),
            ).fetchone()
            _set_tags(conn, arn, tags)
        return Project(pk, self.account, self.region, name, arn, feature, auto_update, status, now)

    def _project(self, conn: sqlite3.Connection, arn: str) -> Project:
        row = conn.execute(
            f"SELECT {_PROJECT} FROM cl_projects WHERE account = ? AND region = ? AND arn = ?",
            (self.account, self.region, arn),
        ).fetchone()
        if row is None:
            raise errors.ResourceNotFoundException(f"The project {arn} does not exist.")
        return Project(*row)

    def project(self, arn: str) -> Project:
        return self._project(self.db.reader(), arn)

    def project_by_pk(self, pk: int) -> Project:
        row = (
            self.db.reader()
            .execute(f"SELECT {_PROJECT} FROM cl_projects WHERE pk = ?", (pk,))
            .fetchone()
        )
        if row is None:
            raise errors.ResourceNotFoundException("The project no longer exists.")
        return Project(*row)

    def projects(self) -> list[Project]:
        """Every project of the account and region, newest first."""
        rows = (
            self.db.reader()
            .execute(
                f"SELECT {_PROJECT} FROM cl_projects WHERE account = ? AND region = ? "
                "ORDER BY created_at DESC, pk DESC",
                (self.account, self.region),
            )
            .fetchall()
        )
        return [Project(*r) for r in rows]

    def delete_project(self, arn: str) -> Project:
        """Delete a project with no versions and no datasets (its policies and tags go with
        it); ResourceInUseException names what is left."""
        with self.db.transaction() as conn:
            project = self._project(conn, arn)
            (versions,) = conn.execute(
                "SELECT count(*) FROM cl_versions WHERE project_pk = ?", (project.pk,)
            ).fetchone()
            (datasets,) = conn.execute(
                "SELECT count(*) FROM cl_datasets WHERE project_pk = ?", (project.pk,)
            ).fetchone()
            if versions or datasets:
                raise errors.ResourceInUseException(
                    f"The project {arn} still has {versions} model version(s) and {datasets} "
                    "dataset(s): delete them first."
                )
            conn.execute("DELETE FROM cl_policies WHERE project_pk = ?", (project.pk,))
            conn.execute("DELETE FROM cl_projects WHERE pk = ?", (project.pk,))
            conn.execute("DELETE FROM cl_tags WHERE arn = ?", (arn,))
        return project

    # -- datasets -----------------------------------------------------------------------------
    def create_dataset(
        self,
        project_arn: str,
        kind: str,
        arn: str,
        status: str,
        message: str,
        code: str,
        now: float,
        tags: dict[str, str],
        entries: list[str] | None = None,
    ) -> Dataset:
        with self.db.transaction() as conn:
            project = self._project(conn, project_arn)
            taken = conn.execute(
                "SELECT arn FROM cl_datasets WHERE project_pk = ? AND kind = ?",
                (project.pk, kind),
            ).fetchone()
            if taken:
                raise errors.ResourceAlreadyExistsException(
                    f"The project {project_arn} already has a {kind} dataset ({taken[0]}): "
                    "delete it first to replace it."
                )
            (pk,) = conn.execute(
                "INSERT INTO cl_datasets (project_pk, kind, arn, status, status_message, "
                "status_code, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING pk",
                (project.pk, kind, arn, status, message, code, now, now),
            ).fetchone()
            if entries:
                _put_entries(conn, pk, entries)
            _set_tags(conn, arn, tags)
        return Dataset(pk, project.pk, kind, arn, status, message, code, now, now)

    def _dataset(self, conn: sqlite3.Connection, arn: str) -> Dataset:
        row = conn.execute(
            "SELECT d.pk, d.project_pk, d.kind, d.arn, d.status, d.status_message, "
            "d.status_code, d.created_at, d.updated_at FROM cl_datasets d "
            "JOIN cl_projects p ON p.pk = d.project_pk "
            "WHERE p.account = ? AND p.region = ? AND d.arn = ?",
            (self.account, self.region, arn),
        ).fetchone()
        if row is None:
            raise errors.ResourceNotFoundException(f"The dataset {arn} does not exist.")
        return Dataset(*row)

    def dataset(self, arn: str) -> Dataset:
        return self._dataset(self.db.reader(), arn)

    def datasets(self, project_pk: int) -> list[Dataset]:
        rows = (
            self.db.reader()
            .execute(
                f"SELECT {_DATASET} FROM cl_datasets WHERE project_pk = ? ORDER BY kind DESC",
                (project_pk,),
            )
            .fetchall()
        )
        return [Dataset(*r) for r in rows]

    def entries(self, dataset_pk: int) -> list[str]:
        rows = (
            self.db.reader()
            .execute("SELECT line FROM cl_entries WHERE dataset_pk = ? ORDER BY seq", (dataset_pk,))
            .fetchall()
        )
        return [r[0] for r in rows]

    def begin_dataset_change(
        self,
        arns: Iterable[str],
        expect: Collection[str],
        status: str,
        message: str,
        now: float,
        error: type[errors.AWSError] = errors.ResourceInUseException,
    ) -> list[Dataset]:
        """Move the datasets to `status` (an *_IN_PROGRESS one) if each is in `expect`;
        else `error` naming the first that is not. All or none."""
        with self.db.transaction() as conn:
            found = [self._dataset(conn, arn) for arn in arns]
            for ds in found:
                if ds.status not in expect:
                    raise error(
                        f"The dataset {ds.arn} cannot change while its status is {ds.status}."
                    )
            for ds in found:
                conn.execute(
                    "UPDATE cl_datasets SET status = ?, status_message = ?, status_code = ?, "
                    "updated_at = ? WHERE pk = ?",
                    (status, message, "SUCCESS", now, ds.pk),
                )
        return found

    def finish_dataset(
        self,
        pk: int,
        expect: str,
        status: str,
        message: str,
        code: str,
        now: float,
        entries: list[str] | None = None,
    ) -> bool:
        """The end of a dataset job: status (and the new entries, if given) in one
        transaction, if the dataset is still in `expect`; False if it is not (or is gone)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT status FROM cl_datasets WHERE pk = ?", (pk,)).fetchone()
            if row is None or row[0] != expect:
                return False
            if entries is not None:
                conn.execute("DELETE FROM cl_entries WHERE dataset_pk = ?", (pk,))
                _put_entries(conn, pk, entries)
            conn.execute(
                "UPDATE cl_datasets SET status = ?, status_message = ?, status_code = ?, "
                "updated_at = ? WHERE pk = ?",
                (status, message, code, now, pk),
            )
        return True

    def finish_distribution(
        self, train_pk: int, test_pk: int, train: list[str], test: list[str], expect: str, now: float, message: str
    ) -> bool:  # fmt: skip
        """DistributeDatasetEntries' end: both datasets' entries and statuses at once."""
        with self.db.transaction() as conn:
            for pk in (train_pk, test_pk):
                row = conn.execute("SELECT status FROM cl_datasets WHERE pk = ?", (pk,)).fetchone()
                if row is None or row[0] != expect:
                    return False
            for pk, lines in ((train_pk, train), (test_pk, test)):
                conn.execute("DELETE FROM cl_entries WHERE dataset_pk = ?", (pk,))
                _put_entries(conn, pk, lines)
                conn.execute(
                    "UPDATE cl_datasets SET status = 'UPDATE_COMPLETE', status_message = ?, "
                    "status_code = 'SUCCESS', updated_at = ? WHERE pk = ?",
                    (message, now, pk),
                )
        return True

    def delete_dataset(self, pk: int) -> None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT arn FROM cl_datasets WHERE pk = ?", (pk,)).fetchone()
            conn.execute("DELETE FROM cl_entries WHERE dataset_pk = ?", (pk,))
            conn.execute("DELETE FROM cl_datasets WHERE pk = ?", (pk,))
            if row:
                conn.execute("DELETE FROM cl_tags WHERE arn = ?", (row[0],))

    # -- versions -----------------------------------------------------------------------------
    def create_version(
        self,
        project_arn: str,
        name: str,
        arn: str,
        status: str,
        message: str,
        now: float,
        request: dict[str, Any],
        tags: dict[str, str],
    ) -> Version:
        with self.db.transaction() as conn:
            project = self._project(conn, project_arn)
            taken = conn.execute(
                "SELECT 1 FROM cl_versions WHERE project_pk = ? AND name = ?", (project.pk, name)
            ).fetchone()
            if taken:
                raise errors.ResourceInUseException(
                    f"The version name {name} is already used in project {project.name}."
                )
            (pk,) = conn.execute(
                "INSERT INTO cl_versions (project_pk, name, arn, status, status_message, "
                "created_at, request) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING pk",
                (project.pk, name, arn, status, message, now, _dumps(request)),
            ).fetchone()
            _set_tags(conn, arn, tags)
        return Version(pk, project.pk, name, arn, status, message, now, request, None, None, None, None)  # fmt: skip

    def _version(self, conn: sqlite3.Connection, arn: str) -> Version:
        row = conn.execute(
            "SELECT "
            + ", ".join(f"v.{c.strip()}" for c in _VERSION.split(","))
            + " FROM cl_versions v JOIN cl_projects p ON p.pk = v.project_pk "
            "WHERE p.account = ? AND p.region = ? AND v.arn = ?",
            (self.account, self.region, arn),
        ).fetchone()
        if row is None:
            raise errors.ResourceNotFoundException(f"The model version {arn} does not exist.")
        return _version(row)

    def version(self, arn: str) -> Version:
        return self._version(self.db.reader(), arn)

    def version_by_pk(self, pk: int) -> Version | None:
        row = (
            self.db.reader()
            .execute(f"SELECT {_VERSION} FROM cl_versions WHERE pk = ?", (pk,))
            .fetchone()
        )
        return None if row is None else _version(row)

    def versions(self, project_pk: int) -> list[Version]:
        """A project's versions, newest first."""
        rows = (
            self.db.reader()
            .execute(
                f"SELECT {_VERSION} FROM cl_versions WHERE project_pk = ? "
                "ORDER BY created_at DESC, pk DESC",
                (project_pk,),
            )
            .fetchall()
        )
        return [_version(r) for r in rows]

    def update_version(self, pk: int, expect: Collection[str], **fields: Any) -> Version | None:
        """Set `fields` (status, status_message, result, min_units, max_units, model_file) if
        the version's status is in `expect`; the version as it is then, None if it was not
        (or is gone)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT status FROM cl_versions WHERE pk = ?", (pk,)).fetchone()
            if row is None or row[0] not in expect:
                return None
            if fields:
                values = [_dumps(v) if k in ("result",) and v is not None else v for k, v in fields.items()]  # fmt: skip
                assignments = ", ".join(f"{k} = ?" for k in fields)
                conn.execute(f"UPDATE cl_versions SET {assignments} WHERE pk = ?", (*values, pk))  # noqa: S608 - column names are ours
            return _version(
                conn.execute(f"SELECT {_VERSION} FROM cl_versions WHERE pk = ?", (pk,)).fetchone()
            )

    def delete_version(self, pk: int, expect: Collection[str]) -> Version | None:
        """Delete a version in one of the `expect` statuses; the deleted version, or None."""
        with self.db.transaction() as conn:
            row = conn.execute(f"SELECT {_VERSION} FROM cl_versions WHERE pk = ?", (pk,)).fetchone()
            if row is None or row[4] not in expect:
                return None
            version = _version(row)
            conn.execute("DELETE FROM cl_versions WHERE pk = ?", (pk,))
            conn.execute("DELETE FROM cl_tags WHERE arn = ?", (version.arn,))
        return version

    # -- policies -----------------------------------------------------------------------------
    def policies(self, project_pk: int) -> list[Policy]:
        rows = (
            self.db.reader()
            .execute(
                "SELECT name, revision_id, document, created_at, updated_at FROM cl_policies "
                "WHERE project_pk = ? ORDER BY name",
                (project_pk,),
            )
            .fetchall()
        )
        return [Policy(*r) for r in rows]

    def put_policy(
        self,
        project_arn: str,
        name: str,
        revision: str | None,
        new_revision: str,
        document: str,
        now: float,
        limit: int,
    ) -> str:
        """Create (`revision` None) or replace (`revision` the current one) a policy."""
        with self.db.transaction() as conn:
            project = self._project(conn, project_arn)
            row = conn.execute(
                "SELECT revision_id, created_at FROM cl_policies WHERE project_pk = ? AND name = ?",
                (project.pk, name),
            ).fetchone()
            if row is None:
                if revision is not None:
                    raise errors.InvalidPolicyRevisionIdException(
                        f"The policy {name} of project {project.name} does not exist, so it has "
                        f"no revision {revision}: put it without a PolicyRevisionId."
                    )
                (count,) = conn.execute(
                    "SELECT count(*) FROM cl_policies WHERE project_pk = ?", (project.pk,)
                ).fetchone()
                if count >= limit:
                    raise errors.LimitExceededException(
                        f"The project {project.name} already has {count} policies, the most a "
                        "project can have."
                    )
                conn.execute(
                    "INSERT INTO cl_policies (project_pk, name, revision_id, document, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (project.pk, name, new_revision, document, now, now),
                )
                return new_revision
            if revision is None:
                raise errors.ResourceAlreadyExistsException(
                    f"The policy {name} already exists in project {project.name}: give its "
                    "PolicyRevisionId to replace it."
                )
            if revision.lower() != row[0].lower():
                raise errors.InvalidPolicyRevisionIdException(
                    f"The PolicyRevisionId {revision} is not the current revision of policy {name}."
                )
            conn.execute(
                "UPDATE cl_policies SET revision_id = ?, document = ?, updated_at = ? "
                "WHERE project_pk = ? AND name = ?",
                (new_revision, document, now, project.pk, name),
            )
        return new_revision

    def delete_policy(self, project_arn: str, name: str, revision: str | None) -> None:
        with self.db.transaction() as conn:
            project = self._project(conn, project_arn)
            row = conn.execute(
                "SELECT revision_id FROM cl_policies WHERE project_pk = ? AND name = ?",
                (project.pk, name),
            ).fetchone()
            if row is None:
                raise errors.ResourceNotFoundException(
                    f"The policy {name} does not exist in project {project.name}."
                )
            if revision is not None and revision.lower() != row[0].lower():
                raise errors.InvalidPolicyRevisionIdException(
                    f"The PolicyRevisionId {revision} is not the current revision of policy {name}."
                )
            conn.execute(
                "DELETE FROM cl_policies WHERE project_pk = ? AND name = ?", (project.pk, name)
            )

    # -- tags ---------------------------------------------------------------------------------
    def tags(self, arn: str) -> dict[str, str]:
        rows = (
            self.db.reader()
            .execute("SELECT key, value FROM cl_tags WHERE arn = ? ORDER BY key", (arn,))
            .fetchall()
        )
        return dict(rows)

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with self.db.transaction() as conn:
            _set_tags(conn, arn, tags)

    def untag(self, arn: str, keys: list[str]) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                "DELETE FROM cl_tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys]
            )


def _put_entries(conn: sqlite3.Connection, dataset_pk: int, lines: list[str]) -> None:
    conn.executemany(
        "INSERT INTO cl_entries (dataset_pk, seq, line) VALUES (?, ?, ?)",
        [(dataset_pk, i, line) for i, line in enumerate(lines)],
    )


def _set_tags(conn: sqlite3.Connection, arn: str, tags: dict[str, str]) -> None:
    if not tags:
        return
    existing = {r[0] for r in conn.execute("SELECT key FROM cl_tags WHERE arn = ?", (arn,))}
    count = len(existing | set(tags))
    if count > TAG_LIMIT:
        raise errors.ServiceQuotaExceededException(
            f"The resource {arn} would have {count} tags; a resource can have at most {TAG_LIMIT}"
        )
    conn.executemany(
        "INSERT INTO cl_tags (arn, key, value) VALUES (?, ?, ?) "
        "ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
        [(arn, k, v) for k, v in tags.items()],
    )


def wipe(db: Database) -> None:
    """Forget every Custom Labels resource (the admin reset)."""
    with db.transaction() as conn:
        for table in ("cl_entries", "cl_datasets", "cl_versions", "cl_policies", "cl_tags", "cl_projects"):  # fmt: skip
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names


def versions_in(db: Database, statuses: Collection[str]) -> list[Version]:
    """Versions of every account in these statuses (restart reconciliation)."""
    marks = ", ".join("?" for _ in statuses)
    rows = (
        db.reader()
        .execute(f"SELECT {_VERSION} FROM cl_versions WHERE status IN ({marks})", tuple(statuses))  # noqa: S608
        .fetchall()
    )
    return [_version(r) for r in rows]


def project_anywhere(db: Database, arn: str) -> Project | None:
    """A project by ARN in any account (CopyProjectVersion's source may be another's)."""
    row = (
        db.reader().execute(f"SELECT {_PROJECT} FROM cl_projects WHERE arn = ?", (arn,)).fetchone()
    )
    return None if row is None else Project(*row)
