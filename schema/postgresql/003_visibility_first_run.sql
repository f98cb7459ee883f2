-- Visibility, schema 3: the first run of a run's continue-as-new / retry / cron chain and the
-- run's state transition count (WorkflowExecutionInfo.first_run_id, state_transition_count),
-- as of the last time history wrote the record. Records written before this version have none
-- (NULL, 0) until history writes them again.
ALTER TABLE executions_visibility ADD COLUMN first_run_id TEXT COLLATE "C";
ALTER TABLE executions_visibility ADD COLUMN state_transition_count BIGINT NOT NULL DEFAULT 0;
