-- Cluster membership seeds, schema 4: one row per member (a role of a temporald process),
-- keyed by its membership address ("ip:port"), heartbeated every ~10 s by its process. A
-- process joining the cluster contacts the members whose heartbeat is recent. Rows of
-- processes gone for 48 hours are deleted by the heartbeats of the others.
CREATE TABLE cluster_membership (
    membership_address TEXT COLLATE "C" PRIMARY KEY,
    host_id            TEXT COLLATE "C" NOT NULL,
    role               TEXT COLLATE "C" NOT NULL,
    rpc_address        TEXT COLLATE "C" NOT NULL,
    session_start_ms   BIGINT NOT NULL,
    heartbeat_ms       BIGINT NOT NULL
);
CREATE INDEX cluster_membership_heartbeat ON cluster_membership (heartbeat_ms);
