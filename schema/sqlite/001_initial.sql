-- SPDX-License-Identifier: Apache-2.0
-- temporald SQLite schema, version 1. Every blob column has a *_encoding column beside it
-- (1 = protobuf) so payload formats can evolve. Times are Unix nanoseconds. The version
-- table (schema_version) is written by the migration runner, not by this file.

CREATE TABLE cluster_metadata (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    cluster_name        TEXT    NOT NULL,
    history_shard_count INTEGER NOT NULL,
    data                BLOB,
    data_encoding       INTEGER NOT NULL DEFAULT 0
);

-- one row: the store-wide namespace notification counter
CREATE TABLE namespace_metadata (
    id                   INTEGER PRIMARY KEY CHECK (id = 1),
    notification_version INTEGER NOT NULL
);
INSERT INTO namespace_metadata (id, notification_version) VALUES (1, 0);

CREATE TABLE namespaces (
    id                   TEXT    PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    data                 BLOB,
    data_encoding        INTEGER NOT NULL DEFAULT 0,
    notification_version INTEGER NOT NULL
);

CREATE TABLE shards (
    shard_id      INTEGER PRIMARY KEY,
    range_id      INTEGER NOT NULL,
    data          BLOB,
    data_encoding INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE executions (
    namespace_id      TEXT    NOT NULL,
    workflow_id       TEXT    NOT NULL,
    run_id            TEXT    NOT NULL,
    shard_id          INTEGER NOT NULL,
    state             INTEGER NOT NULL,
    status            INTEGER NOT NULL,
    next_event_id     INTEGER NOT NULL,
    db_record_version INTEGER NOT NULL,
    last_write_ns     INTEGER NOT NULL,
    data              BLOB,
    data_encoding     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace_id, workflow_id, run_id)
) WITHOUT ROWID;
CREATE INDEX executions_by_shard ON executions (shard_id);

CREATE TABLE current_executions (
    namespace_id      TEXT    NOT NULL,
    workflow_id       TEXT    NOT NULL,
    shard_id          INTEGER NOT NULL,
    run_id            TEXT    NOT NULL,
    create_request_id TEXT    NOT NULL,
    state             INTEGER NOT NULL,
    status            INTEGER NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id)
) WITHOUT ROWID;

-- history event batches; node_id is the batch's first event id
CREATE TABLE history_node (
    tree_id       TEXT    NOT NULL,
    branch_id     TEXT    NOT NULL,
    node_id       INTEGER NOT NULL,
    event_count   INTEGER NOT NULL,
    data          BLOB    NOT NULL,
    data_encoding INTEGER NOT NULL,
    PRIMARY KEY (tree_id, branch_id, node_id)
) WITHOUT ROWID;

-- transfer (1), timer (2) and visibility (3) queues of every shard; fire_ns is 0 except
-- for timers, so one key orders every category correctly
CREATE TABLE history_tasks (
    shard_id      INTEGER NOT NULL,
    category      INTEGER NOT NULL,
    fire_ns       INTEGER NOT NULL,
    task_id       INTEGER NOT NULL,
    data          BLOB,
    data_encoding INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (shard_id, category, fire_ns, task_id)
) WITHOUT ROWID;

CREATE TABLE task_queues (
    namespace_id  TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    type          INTEGER NOT NULL,
    kind          INTEGER NOT NULL,
    range_id      INTEGER NOT NULL,
    ack_level     INTEGER NOT NULL,
    expiry_ns     INTEGER NOT NULL DEFAULT 0,
    data          BLOB,
    data_encoding INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace_id, name, type)
) WITHOUT ROWID;

-- task-queue backlog
CREATE TABLE tasks (
    namespace_id  TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    type          INTEGER NOT NULL,
    task_id       INTEGER NOT NULL,
    expiry_ns     INTEGER NOT NULL DEFAULT 0,
    data          BLOB,
    data_encoding INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace_id, name, type, task_id)
) WITHOUT ROWID;

-- visibility: one row per run. sort_close is close_ns, or the largest int64 while running,
-- so the default listing order (running first, newest closed next) is one index scan.
CREATE TABLE executions_visibility (
    namespace_id       TEXT    NOT NULL,
    run_id             TEXT    NOT NULL,
    workflow_id        TEXT    NOT NULL,
    workflow_type      TEXT    NOT NULL,
    task_queue         TEXT    NOT NULL,
    start_ns           INTEGER NOT NULL,
    execution_ns       INTEGER NOT NULL,
    close_ns           INTEGER,
    sort_close         INTEGER NOT NULL,
    status             INTEGER NOT NULL,
    history_length     INTEGER NOT NULL DEFAULT 0,
    history_size_bytes INTEGER NOT NULL DEFAULT 0,
    memo               BLOB,
    memo_encoding      INTEGER NOT NULL DEFAULT 0,
    search_attributes  BLOB,
    sa_encoding        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace_id, run_id)
) WITHOUT ROWID;
CREATE INDEX vis_default_order ON executions_visibility
    (namespace_id, sort_close DESC, start_ns DESC, run_id DESC);
CREATE INDEX vis_start ON executions_visibility (namespace_id, start_ns DESC, run_id DESC);
CREATE INDEX vis_workflow_id ON executions_visibility (namespace_id, workflow_id);
CREATE INDEX vis_workflow_type ON executions_visibility (namespace_id, workflow_type);
CREATE INDEX vis_status ON executions_visibility (namespace_id, status);

-- typed custom search attributes: one row per value (a keyword list has several)
CREATE TABLE visibility_sa (
    namespace_id TEXT    NOT NULL,
    run_id       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    type         INTEGER NOT NULL,
    ival         INTEGER,
    dval         REAL,
    sval         TEXT
);
CREATE INDEX vis_sa_run ON visibility_sa (namespace_id, run_id);
CREATE INDEX vis_sa_int ON visibility_sa (namespace_id, name, ival);
CREATE INDEX vis_sa_dbl ON visibility_sa (namespace_id, name, dval);
CREATE INDEX vis_sa_str ON visibility_sa (namespace_id, name, sval);
