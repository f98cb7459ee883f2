-- Cluster membership seeds, schema 4: one row per member (a role of a temporald process),
-- keyed by its membership address ("ip:port"), heartbeated every ~10 s by its process. A
-- process joining the cluster contacts the members whose heartbeat is recent. Rows of
-- processes gone for 48 hours are deleted by the heartbeats of the others.
CREATE TABLE cluster_membership (
    membership_address TEXT PRIMARY KEY,
    host_id            TEXT NOT NULL,
    role               TEXT NOT NULL,
    rpc_address        TEXT NOT NULL,
    session_start_ms   INTEGER NOT NULL,
    heartbeat_ms       INTEGER NOT NULL
);
CREATE INDEX cluster_membership_heartbeat ON cluster_membership (heartbeat_ms);
