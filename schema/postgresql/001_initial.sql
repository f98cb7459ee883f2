-- SPDX-License-Identifier: Apache-2.0
-- temporald PostgreSQL schema, version 1: the same tables, keys and indexes as
-- schema/sqlite/001_initial.sql with PostgreSQL types (BIGINT for ids, versions and Unix
-- nanosecond times, BYTEA for blobs), plus commit_markers, which the backend uses to learn
-- whether a group transaction whose COMMIT reply was lost did commit. Every blob column has
-- a *_encoding column beside it (1 = protobuf). The version table (schema_version) is written
-- by the migration runner (src/store/postgres/), not by this file.

CREATE TABLE cluster_metadata (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    cluster_name        TEXT COLLATE "C"    NOT NULL,
    history_shard_count INTEGER NOT NULL,
    data                BYTEA,
    data_encoding       INTEGER NOT NULL DEFAULT 0
);

-- one row: the store-wide namespace notification counter
CREATE TABLE namespace_metadata (
    id                   INTEGER PRIMARY KEY CHECK (id = 1),
    notification_version BIGINT  NOT NULL
);
INSERT INTO namespace_metadata (id, notification_version) VALUES (1, 0);

CREATE TABLE namespaces (
    id                   TEXT COLLATE "C"    PRIMARY KEY,
    name                 TEXT COLLATE "C"    NOT NULL UNIQUE,
    data                 BYTEA,
    data_encoding        INTEGER NOT NULL DEFAULT 0,
    notification_version BIGINT  NOT NULL
);

CREATE TABLE shards (
    shard_id      INTEGER PRIMARY KEY,
    range_id      BIGINT  NOT NULL,
    data          BYTEA,
    data_encoding INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE executions (
    namespace_id      TEXT COLLATE "C"    NOT NULL,
    workflow_id       TEXT COLLATE "C"    NOT NULL,
    run_id            TEXT COLLATE "C"    NOT NULL,
    shard_id          INTEGER NOT NULL,
    state             INTEGER NOT NULL,
    status            INTEGER NOT NULL,
    next_event_id     BIGINT  NOT NULL,
    db_record_version BIGINT  NOT NULL,
    last_write_ns     BIGINT  NOT NULL,
    data              BYTEA,
    data_encoding     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace_id, workflow_id, run_id)
);
CREATE INDEX executions_by_shard ON executions (shard_id);

CREATE TABLE current_executions (
    namespace_id      TEXT COLLATE "C"    NOT NULL,
    workflow_id       TEXT COLLATE "C"    NOT NULL,
    shard_id          INTEGER NOT NULL,
    run_id            TEXT COLLATE "C"    NOT NULL,
    create_request_id TEXT COLLATE "C"    NOT NULL,
    state             INTEGER NOT NULL,
    status            INTEGER NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id)
);

-- history event batches; node_id is the batch's first event id
CREATE TABLE history_node (
    tree_id       TEXT COLLATE "C"    NOT NULL,
    branch_id     TEXT COLLATE "C"    NOT NULL,
    node_id       BIGINT  NOT NULL,
    event_count   INTEGER NOT NULL,
    data          BYTEA   NOT NULL,
    data_encoding INTEGER NOT NULL,
    PRIMARY KEY (tree_id, branch_id, node_id)
);

-- transfer (1), timer (2) and visibility (3) queues of every shard; fire_ns is 0 except
-- for timers, so one key orders every category correctly
CREATE TABLE history_tasks (
    shard_id      INTEGER NOT NULL,
    category      INTEGER NOT NULL,
    fire_ns       BIGINT  NOT NULL,
    task_id       BIGINT  NOT NULL,
    data          BYTEA,
    data_encoding INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (shard_id, category, fire_ns, task_id)
);

CREATE TABLE task_queues (
    namespace_id  TEXT COLLATE "C"    NOT NULL,
    name          TEXT COLLATE "C"    NOT NULL,
    type          INTEGER NOT NULL,
    kind          INTEGER NOT NULL,
    range_id      BIGINT  NOT NULL,
    ack_level     BIGINT  NOT NULL,
    expiry_ns     BIGINT  NOT NULL DEFAULT 0,
    data          BYTEA,
    data_encoding INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace_id, name, type)
);

-- task-queue backlog
CREATE TABLE tasks (
    namespace_id  TEXT COLLATE "C"    NOT NULL,
    name          TEXT COLLATE "C"    NOT NULL,
    type          INTEGER NOT NULL,
    task_id       BIGINT  NOT NULL,
    expiry_ns     BIGINT  NOT NULL DEFAULT 0,
    data          BYTEA,
    data_encoding INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace_id, name, type, task_id)
);

-- visibility: one row per run. sort_close is close_ns, or the largest int64 while running,
-- so the default listing order (running first, newest closed next) is one index scan.
CREATE TABLE executions_visibility (
    namespace_id       TEXT COLLATE "C"    NOT NULL,
    run_id             TEXT COLLATE "C"    NOT NULL,
    workflow_id        TEXT COLLATE "C"    NOT NULL,
    workflow_type      TEXT COLLATE "C"    NOT NULL,
    task_queue         TEXT COLLATE "C"    NOT NULL,
    start_ns           BIGINT  NOT NULL,
    execution_ns       BIGINT  NOT NULL,
    close_ns           BIGINT,
    sort_close         BIGINT  NOT NULL,
    status             INTEGER NOT NULL,
    history_length     BIGINT  NOT NULL DEFAULT 0,
    history_size_bytes BIGINT  NOT NULL DEFAULT 0,
    memo               BYTEA,
    memo_encoding      INTEGER NOT NULL DEFAULT 0,
    search_attributes  BYTEA,
    sa_encoding        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace_id, run_id)
);
CREATE INDEX vis_default_order ON executions_visibility
    (namespace_id, sort_close DESC, start_ns DESC, run_id DESC);
CREATE INDEX vis_start ON executions_visibility (namespace_id, start_ns DESC, run_id DESC);
CREATE INDEX vis_workflow_id ON executions_visibility (namespace_id, workflow_id);
CREATE INDEX vis_workflow_type ON executions_visibility (namespace_id, workflow_type);
CREATE INDEX vis_status ON executions_visibility (namespace_id, status);

-- typed custom search attributes: one row per value (a keyword list has several)
CREATE TABLE visibility_sa (
    namespace_id TEXT COLLATE "C"    NOT NULL,
    run_id       TEXT COLLATE "C"    NOT NULL,
    name         TEXT COLLATE "C"    NOT NULL,
    type         INTEGER NOT NULL,
    ival         BIGINT,
    dval         DOUBLE PRECISION,
    sval         TEXT COLLATE "C"
);
CREATE INDEX vis_sa_run ON visibility_sa (namespace_id, run_id);
CREATE INDEX vis_sa_int ON visibility_sa (namespace_id, name, ival);
CREATE INDEX vis_sa_dbl ON visibility_sa (namespace_id, name, dval);
CREATE INDEX vis_sa_str ON visibility_sa (namespace_id, name, sval);

-- one row per group transaction of a writer, inserted inside it: after a lost connection,
-- trying to insert the same id again tells whether that transaction committed (the insert
-- waits for it if it is still running). Old rows are pruned by the writers.
CREATE TABLE commit_markers (
    id         BIGINT      PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
