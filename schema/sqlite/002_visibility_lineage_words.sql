-- Visibility, schema 2: the lineage of a run (its parent and the root of its tree) as
-- columns, and the words of Text search attributes as visibility_sa rows of type 101 (one row
-- per distinct word, ASCII letters lower-cased; a word is a maximal run of ASCII letters and
-- digits and non-ASCII bytes), which Text comparisons match. Records written before this
-- version have no lineage (NULL) until history writes them again; their Text values are
-- split into words here.
ALTER TABLE executions_visibility ADD COLUMN parent_workflow_id TEXT;
ALTER TABLE executions_visibility ADD COLUMN parent_run_id TEXT;
ALTER TABLE executions_visibility ADD COLUMN root_workflow_id TEXT;
ALTER TABLE executions_visibility ADD COLUMN root_run_id TEXT;
CREATE INDEX vis_parent ON executions_visibility (namespace_id, parent_workflow_id);
CREATE INDEX vis_root ON executions_visibility (namespace_id, root_workflow_id);
CREATE INDEX vis_sa_type ON visibility_sa (namespace_id, name, type, sval);

-- every byte below 0x80 that is not a letter or digit becomes a space (one byte value per
-- step of `clean`), then the text is cut at the spaces
WITH RECURSIVE
  clean(namespace_id, run_id, name, txt, c) AS (
    SELECT namespace_id, run_id, name, lower(sval), 1
      FROM visibility_sa WHERE type = 1 AND sval IS NOT NULL
    UNION ALL
    SELECT namespace_id, run_id, name,
           CASE WHEN c BETWEEN 48 AND 57 OR c BETWEEN 65 AND 90 OR c BETWEEN 97 AND 122
                THEN txt ELSE replace(txt, char(c), ' ') END,
           c + 1
      FROM clean WHERE c < 128
  ),
  words(namespace_id, run_id, name, word, rest) AS (
    SELECT namespace_id, run_id, name, '', txt || ' ' FROM clean WHERE c = 128
    UNION ALL
    SELECT namespace_id, run_id, name, substr(rest, 1, instr(rest, ' ') - 1),
           substr(rest, instr(rest, ' ') + 1)
      FROM words WHERE rest != ''
  )
INSERT INTO visibility_sa (namespace_id, run_id, name, type, sval)
SELECT DISTINCT namespace_id, run_id, name, 101, word FROM words WHERE word != '';
