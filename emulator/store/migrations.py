"""The SQLite schema, as a list of numbered steps: the data dir's `meta.schema_version`
says which steps it has had, and opening it applies the rest, in order, in one transaction.

A released step never changes: a data dir written by any release opens in every later one
by replaying the steps it lacks (tests/test_store_migrations.py opens one written by the
release of schema 1). A data dir of a newer schema than this code knows is refused rather
than guessed at.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger("rekognition_emulator.store")


class SchemaTooNewError(RuntimeError):
    """The data dir was written by a newer rekognition-emulator."""


@dataclass(frozen=True)
class Migration:
    version: int
    what: str
    apply: Callable[[sqlite3.Connection], None]


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        # executescript() would COMMIT first: run the statements one by one, in our transaction.
        for statement in _statements(sql):
            conn.execute(statement)

    return apply


def _statements(sql: str) -> Iterator[str]:
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {pending!r}")


# Schema 1: the release of commit a0fc504 (collections, faces, users, tags), verbatim.
_V1 = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collections (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    arn TEXT NOT NULL,
    face_model_version TEXT NOT NULL,
    created_at REAL NOT NULL,
    face_count INTEGER NOT NULL DEFAULT 0,
    user_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, region, collection_id)
);
-- label is the face's id inside its collection's HNSW index. AUTOINCREMENT keeps labels
-- increasing and never reused, which is what lets a saved index be caught up from SQLite
-- ("every face with a label above the saved watermark is new").
CREATE TABLE IF NOT EXISTS faces (
    label INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL,
    face_id TEXT NOT NULL,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    bbox_left REAL NOT NULL,
    bbox_top REAL NOT NULL,
    bbox_width REAL NOT NULL,
    bbox_height REAL NOT NULL,
    confidence REAL NOT NULL,
    model_version TEXT NOT NULL,
    user_pk INTEGER,
    embedding BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS faces_by_face_id ON faces (collection_pk, face_id);
-- A collection's faces in label order (an index on collection_pk holds the rowid sorted):
-- ListFaces pages, index rebuilds and catch-ups walk it.
CREATE INDEX IF NOT EXISTS faces_by_collection ON faces (collection_pk);
CREATE INDEX IF NOT EXISTS faces_by_user ON faces (user_pk) WHERE user_pk IS NOT NULL;
CREATE TABLE IF NOT EXISTS users (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (collection_pk, user_id)
);
CREATE TABLE IF NOT EXISTS tags (
    collection_pk INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (collection_pk, key)
) WITHOUT ROWID;
-- Deleted faces since the collection's index was last saved: replayed as mark_deleted
-- when a saved index is loaded; pruned once a newer index has been saved.
CREATE TABLE IF NOT EXISTS tombstones (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL,
    label INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tombstones_by_collection ON tombstones (collection_pk, seq);
-- ClientRequestToken of user operations: the same token answers the stored response.
CREATE TABLE IF NOT EXISTS idempotency (
    collection_pk INTEGER NOT NULL,
    operation TEXT NOT NULL,
    token TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (collection_pk, operation, token)
) WITHOUT ROWID;
"""

# Schema 2: the job engine (emulator/jobs): jobs, their ClientRequestTokens, result items
# and the completion notifications still to publish.
_V2 = """
CREATE TABLE jobs (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- IN_PROGRESS (queued while started_at is NULL) | SUCCEEDED | FAILED | STOPPED
    status TEXT NOT NULL,
    -- 1 when the job counts toward its account's limit of open jobs
    limited INTEGER NOT NULL,
    params TEXT NOT NULL,
    notification TEXT,
    progress REAL NOT NULL DEFAULT 0,
    status_message TEXT,
    result TEXT,
    result_count INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    submitted_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    notify_outcome TEXT,
    message_id TEXT,
    notified_at REAL,
    UNIQUE (account, region, job_id)
);
CREATE INDEX jobs_open ON jobs (account, region) WHERE status = 'IN_PROGRESS';
CREATE INDEX jobs_by_finish ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_by_job_id ON jobs (job_id);
-- ClientRequestTokens of Start* calls: the same token and parameters give the same job.
CREATE TABLE job_tokens (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    token TEXT NOT NULL,
    kind TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    job_pk INTEGER NOT NULL,
    PRIMARY KEY (account, region, token)
) WITHOUT ROWID;
CREATE INDEX job_tokens_by_job ON job_tokens (job_pk);
-- A job's result items in the order it stored them; `attempt` tells the items of a run cut
-- short by a crash from those of the run that finished.
CREATE TABLE job_results (
    job_pk INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (job_pk, attempt, seq)
) WITHOUT ROWID;
-- Completion notifications, committed with the job's final status and deleted once
-- published: a crash between the two publishes it after the restart.
CREATE TABLE job_outbox (
    job_pk INTEGER PRIMARY KEY,
    topic_arn TEXT NOT NULL,
    message TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL NOT NULL
);
"""

# Schema 3: Rekognition Custom Labels (store/projects.py): projects, their datasets and the
# datasets' entries (one JSON line each), model versions, project policies, and the tags of
# projects, datasets and versions (by ARN).
_V3 = """
CREATE TABLE cl_projects (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    -- CUSTOM_LABELS | CONTENT_MODERATION
    feature TEXT NOT NULL,
    auto_update TEXT,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (account, region, name)
);
CREATE TABLE cl_datasets (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    project_pk INTEGER NOT NULL,
    -- TRAIN | TEST: one of each a project
    kind TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL,
    status_code TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (project_pk, kind)
);
-- A dataset's entries in order; `line` is the JSON line with the errors found in it.
CREATE TABLE cl_entries (
    dataset_pk INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (dataset_pk, seq)
) WITHOUT ROWID;
CREATE TABLE cl_versions (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    project_pk INTEGER NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL,
    created_at REAL NOT NULL,
    -- what the creating call asked for (OutputConfig, TrainingData, ...), JSON
    request TEXT NOT NULL,
    -- what training produced for DescribeProjectVersions (EvaluationResult, ...), JSON
    result TEXT,
    min_units INTEGER,
    max_units INTEGER,
    -- the trained model's file, relative to the data dir (written before the status says so)
    model_file TEXT,
    UNIQUE (project_pk, name)
);
CREATE TABLE cl_policies (
    project_pk INTEGER NOT NULL,
    name TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (project_pk, name)
) WITHOUT ROWID;
CREATE TABLE cl_tags (
    arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
) WITHOUT ROWID;
"""

# Schema 4: stream processors (their tags, and the emulator's map of Kinesis video streams to
# the videos they play) and Face Liveness sessions.
_V4 = """
CREATE TABLE stream_processors (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    -- FACE_SEARCH | CONNECTED_HOME
    kind TEXT NOT NULL,
    -- STOPPED | STARTING | RUNNING | FAILED | STOPPING | UPDATING
    status TEXT NOT NULL,
    status_message TEXT,
    -- the CreateStreamProcessor request as UpdateStreamProcessor left it (JSON)
    settings TEXT NOT NULL,
    -- the latest StartStreamProcessor: its SessionId (the job engine's job id) and selectors
    session_id TEXT,
    session TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (account, region, name)
);
CREATE TABLE stream_processor_tags (
    processor_pk INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (processor_pk, key)
) WITHOUT ROWID;
-- What a Kinesis video stream "plays" (POST /_emulator/streams): a video in S3 or on disk.
CREATE TABLE stream_sources (
    stream_arn TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE liveness_sessions (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    client_token TEXT,
    -- CREATED | IN_PROGRESS | SUCCEEDED | FAILED | EXPIRED
    status TEXT NOT NULL,
    settings TEXT NOT NULL,
    result TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (account, region, session_id)
);
CREATE UNIQUE INDEX liveness_by_token ON liveness_sessions (account, region, client_token)
    WHERE client_token IS NOT NULL;
"""

# Schema 5: the celebrity gallery a user seeds (handlers/celebrities.py). One gallery per
# data dir, as AWS has one celebrity gallery for every account and region.
_V5 = """
CREATE TABLE celebrities (
    celebrity_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    urls TEXT NOT NULL,
    -- Male | Female | Nonbinary | Unlisted, as given, or read from the photos when not given
    gender TEXT NOT NULL,
    gender_given INTEGER NOT NULL,
    created_at REAL NOT NULL
);
-- One row per photo: the embedding of its largest face. `origin` is 'api' (the CLI or the
-- admin endpoint) or 'dir' (the --celebrities-dir folder, read again at every start).
CREATE TABLE celebrity_faces (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    celebrity_id TEXT NOT NULL,
    photo_sha256 TEXT NOT NULL,
    origin TEXT NOT NULL,
    source TEXT NOT NULL,
    female REAL NOT NULL,
    embedding BLOB NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (celebrity_id, photo_sha256, origin)
);
CREATE INDEX celebrity_faces_by_celebrity ON celebrity_faces (celebrity_id);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "collections, faces, users and tags", _script(_V1)),
    Migration(2, "the job engine's tables", _script(_V2)),
    Migration(3, "Custom Labels projects, datasets, versions and policies", _script(_V3)),
    Migration(4, "stream processors, stream sources and Face Liveness sessions", _script(_V4)),
    Migration(5, "the celebrity gallery", _script(_V5)),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def stored_version(conn: sqlite3.Connection) -> int:
    """The schema version a database holds (0 for a new, empty one)."""
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def upgrade(conn: sqlite3.Connection, where: object) -> int:
    """Bring the database to SCHEMA_VERSION, all steps in one transaction; returns the
    version it had. `conn` must be in autocommit mode (isolation_level=None)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = stored_version(conn)
        if found > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"the data directory {where} was written by a newer rekognition-emulator "
                f"(store schema {found}; this version knows schemas up to {SCHEMA_VERSION}): "
                "upgrade rekognition-emulator, or start it with another --data-dir"
            )
        for step in MIGRATIONS[found:]:
            step.apply(conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(step.version),),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if 0 < found < SCHEMA_VERSION:
        log.info(
            "store schema of %s upgraded from %d to %d (%s)",
            where,
            found,
            SCHEMA_VERSION,
            "; ".join(m.what for m in MIGRATIONS[found:]),
        )
    return found
