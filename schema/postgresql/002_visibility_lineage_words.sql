-- Visibility, schema 2: the lineage of a run (its parent and the root of its tree) as
-- columns, and the words of Text search attributes as visibility_sa rows of type 101 (one row
-- per distinct word, ASCII letters lower-cased; a word is a maximal run of ASCII letters and
-- digits and non-ASCII bytes), which Text comparisons match. Records written before this
-- version have no lineage (NULL) until history writes them again; their Text values are
-- split into words here.
ALTER TABLE executions_visibility ADD COLUMN parent_workflow_id TEXT COLLATE "C";
ALTER TABLE executions_visibility ADD COLUMN parent_run_id TEXT COLLATE "C";
ALTER TABLE executions_visibility ADD COLUMN root_workflow_id TEXT COLLATE "C";
ALTER TABLE executions_visibility ADD COLUMN root_run_id TEXT COLLATE "C";
CREATE INDEX vis_parent ON executions_visibility (namespace_id, parent_workflow_id);
CREATE INDEX vis_root ON executions_visibility (namespace_id, root_workflow_id);
CREATE INDEX vis_sa_type ON visibility_sa (namespace_id, name, type, sval);

INSERT INTO visibility_sa (namespace_id, run_id, name, type, sval)
SELECT DISTINCT s.namespace_id, s.run_id, s.name, 101, w.word
  FROM visibility_sa s,
       regexp_split_to_table(lower(s.sval), '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+') AS w(word)
 WHERE s.type = 1 AND s.sval IS NOT NULL AND w.word <> '';
