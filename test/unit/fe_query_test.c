/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The visibility query language (src/roles/frontend/fe_query.c): every construct compiled into
 * the store's filter tree (printed in a compact form to compare), orderings, GROUP BY, the value
 * parsers (RFC 3339 times, Go durations, status names) and every error with the column of the
 * token it names.
 */
#include "test.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "error.h"
#include "roles/frontend/fe_query.h"

/* The custom attributes of the test namespace. */
static int qt_sa(const void *arg, const char *name)
{
    static const struct {
        const char *name;
        int type;
    } v[] = {
        { "CustomKeywordField", TD_STORE_SA_KEYWORD },
        { "CustomTextField", TD_STORE_SA_TEXT },
        { "CustomIntField", TD_STORE_SA_INT },
        { "CustomDoubleField", TD_STORE_SA_DOUBLE },
        { "CustomBoolField", TD_STORE_SA_BOOL },
        { "CustomDatetimeField", TD_STORE_SA_DATETIME },
        { "CustomKeywordListField", TD_STORE_SA_KEYWORD_LIST },
        { "My Attr", TD_STORE_SA_KEYWORD },
    };
    (void)arg;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (strcmp(v[i].name, name) == 0) {
            return v[i].type;
        }
    }
    return 0;
}

static const char *qt_op(int op)
{
    static const char *const n[] = { "?", "=",  "!=", "<",       "<=",
                                     ">", ">=", "SW", "IS NULL", "IS NOT NULL" };
    return op > 0 && op < (int)(sizeof(n) / sizeof(n[0])) ? n[op] : "?";
}

static void qt_print(char *buf, size_t cap, const td_store_vfilter_t *f)
{
    size_t n = strlen(buf);

    if (f == NULL) {
        snprintf(buf + n, cap - n, "ALL");
        return;
    }
    switch (f->kind) {
    case TD_STORE_VF_AND:
    case TD_STORE_VF_OR:
    case TD_STORE_VF_NOT:
        snprintf(buf + n, cap - n, "%s(",
                 f->kind == TD_STORE_VF_AND  ? "AND"
                 : f->kind == TD_STORE_VF_OR ? "OR"
                                             : "NOT");
        for (int i = 0; i < f->n_args; i++) {
            if (i > 0) {
                n = strlen(buf);
                snprintf(buf + n, cap - n, ", ");
            }
            qt_print(buf, cap, f->args[i]);
        }
        n = strlen(buf);
        snprintf(buf + n, cap - n, ")");
        break;
    default:
        if (f->op == TD_STORE_VF_IS_NULL || f->op == TD_STORE_VF_IS_NOT_NULL) {
            snprintf(buf + n, cap - n, "%s %s", f->field, qt_op(f->op));
        } else if (f->value.type == TD_STORE_SA_DOUBLE) {
            snprintf(buf + n, cap - n, "%s %s %g", f->field, qt_op(f->op), f->value.d);
        } else if (f->value.type == TD_STORE_SA_INT || f->value.type == TD_STORE_SA_BOOL ||
                   f->value.type == TD_STORE_SA_DATETIME) {
            snprintf(buf + n, cap - n, "%s %s %lld", f->field, qt_op(f->op), (long long)f->value.i);
        } else {
            snprintf(buf + n, cap - n, "%s %s '%s'", f->field, qt_op(f->op),
                     f->value.s ? f->value.s : "(null)");
        }
    }
}

static char qt_out[4096];
static const char *qt_err;
static td_fe_query_t qt_q;

/* Compiles text; returns the printed filter, or "ERR <message>". */
static const char *qt(const char *text)
{
    td_arena_t a;
    int rc;

    td_arena_init(&a, 1024);
    qt_out[0] = '\0';
    rc = td_fe_query_compile(text, qt_sa, NULL, &a, &qt_q, &qt_err);
    if (rc != TD_OK) {
        TD_CHECK_INT(rc, ==, TD_EINVAL);
        TD_CHECK(qt_err != NULL);
        snprintf(qt_out, sizeof(qt_out), "ERR %s", qt_err);
    } else {
        qt_print(qt_out, sizeof(qt_out), qt_q.filter);
    }
    for (int i = 0; rc == TD_OK && i < qt_q.n_sort; i++) {
        /* sort keys follow the filter: " | key type dir ..." */
        size_t n = strlen(qt_out);
        snprintf(qt_out + n, sizeof(qt_out) - n, "%s%s:%d %s", i == 0 ? " | " : ", ",
                 qt_q.sort[i].field, qt_q.sort[i].type, qt_q.sort[i].desc ? "DESC" : "ASC");
        qt_q.sort[i].field = NULL;
    }
    td_arena_destroy(&a); /* qt_q.filter dangles from here on; the text is kept in qt_out */
    qt_q.filter = NULL;
    qt_err = NULL;
    return qt_out;
}

TD_TEST(fq_empty_and_simple_comparisons)
{
    TD_CHECK_STR(qt(NULL), "ALL");
    TD_CHECK_STR(qt("   "), "ALL");
    TD_CHECK_STR(qt("WorkflowId = 'wf-1'"), "WorkflowId = 'wf-1'");
    TD_CHECK_STR(qt("WorkflowId=\"wf-2\""), "WorkflowId = 'wf-2'");
    TD_CHECK_STR(qt("WorkflowType != 'a'"), "WorkflowType != 'a'");
    TD_CHECK_STR(qt("WorkflowType <> 'a'"), "WorkflowType != 'a'");
    TD_CHECK_STR(qt("TaskQueue < 'm'"), "TaskQueue < 'm'");
    TD_CHECK_STR(qt("HistoryLength <= 10"), "HistoryLength <= 10");
    TD_CHECK_STR(qt("HistoryLength > -3"), "HistoryLength > -3");
    TD_CHECK_STR(qt("HistorySizeBytes >= 1000"), "HistorySizeBytes >= 1000");
    TD_CHECK_STR(qt("RunId = 'r'"), "RunId = 'r'");
    TD_CHECK_STR(qt("`WorkflowId` = 'x'"), "WorkflowId = 'x'");
    TD_CHECK_STR(qt("`My Attr` = 'x'"), "My Attr = 'x'");
    /* escapes: doubled quotes and backslashes */
    TD_CHECK_STR(qt("WorkflowId = 'it''s'"), "WorkflowId = 'it's'");
    TD_CHECK_STR(qt("WorkflowId = 'a\\'b'"), "WorkflowId = 'a'b'");
    TD_CHECK_STR(qt("WorkflowId = \"say \"\"hi\"\"\""), "WorkflowId = 'say \"hi\"'");
}

TD_TEST(fq_status_and_times)
{
    TD_CHECK_STR(qt("ExecutionStatus = 'Running'"), "ExecutionStatus = 1");
    TD_CHECK_STR(qt("ExecutionStatus = 'Completed'"), "ExecutionStatus = 2");
    TD_CHECK_STR(qt("ExecutionStatus = 'Failed'"), "ExecutionStatus = 3");
    TD_CHECK_STR(qt("ExecutionStatus = 'Canceled'"), "ExecutionStatus = 4");
    TD_CHECK_STR(qt("ExecutionStatus = 'Terminated'"), "ExecutionStatus = 5");
    TD_CHECK_STR(qt("ExecutionStatus = 'ContinuedAsNew'"), "ExecutionStatus = 6");
    TD_CHECK_STR(qt("ExecutionStatus != 'TimedOut'"), "ExecutionStatus != 7");
    TD_CHECK_STR(qt("ExecutionStatus = 3"), "ExecutionStatus = 3");
    TD_CHECK_STR(qt("ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_FAILED'"), "ExecutionStatus = 3");
    TD_CHECK_STR(qt("StartTime > '2024-01-02T03:04:05Z'"), "StartTime > 1704164645000000000");
    TD_CHECK_STR(qt("CloseTime <= '2024-01-02T03:04:05.5+01:00'"),
                 "CloseTime <= 1704161045500000000");
    TD_CHECK_STR(qt("ExecutionTime >= 17"), "ExecutionTime >= 17");
    TD_CHECK_STR(qt("CustomDatetimeField = '1970-01-01T00:00:01.000000001Z'"),
                 "CustomDatetimeField = 1000000001");
}

TD_TEST(fq_logic_and_precedence)
{
    TD_CHECK_STR(qt("WorkflowId = 'a' AND WorkflowType = 'b' OR TaskQueue = 'c'"),
                 "OR(AND(WorkflowId = 'a', WorkflowType = 'b'), TaskQueue = 'c')");
    TD_CHECK_STR(qt("WorkflowId = 'a' and (WorkflowType = 'b' or TaskQueue = 'c')"),
                 "AND(WorkflowId = 'a', OR(WorkflowType = 'b', TaskQueue = 'c'))");
    /* chains flatten */
    TD_CHECK_STR(qt("RunId = '1' AND RunId = '2' AND RunId = '3'"),
                 "AND(RunId = '1', RunId = '2', RunId = '3')");
    /* NOT is pushed down to the comparisons */
    TD_CHECK_STR(qt("NOT WorkflowId = 'a'"), "WorkflowId != 'a'");
    TD_CHECK_STR(qt("NOT (HistoryLength < 5 OR HistoryLength >= 9)"),
                 "AND(HistoryLength >= 5, HistoryLength < 9)");
    TD_CHECK_STR(qt("NOT NOT (HistoryLength > 5 AND HistoryLength <= 9)"),
                 "AND(HistoryLength > 5, HistoryLength <= 9)");
    TD_CHECK_STR(qt("NOT (HistoryLength > 5 AND HistoryLength <= 9)"),
                 "OR(HistoryLength <= 5, HistoryLength > 9)");
    TD_CHECK_STR(qt("NOT CloseTime IS NULL"), "CloseTime IS NOT NULL");
    /* a negated comparison on a custom attribute stays false on records without it */
    TD_CHECK_STR(qt("NOT CustomKeywordField STARTS_WITH 'ab'"),
                 "AND(CustomKeywordField IS NOT NULL, NOT(CustomKeywordField SW 'ab'))");
}

TD_TEST(fq_in_between_starts_with_null)
{
    TD_CHECK_STR(qt("WorkflowType IN ('a', 'b', \"c\")"),
                 "OR(WorkflowType = 'a', WorkflowType = 'b', WorkflowType = 'c')");
    TD_CHECK_STR(qt("ExecutionStatus IN ('Running', 'Failed')"),
                 "OR(ExecutionStatus = 1, ExecutionStatus = 3)");
    TD_CHECK_STR(qt("WorkflowType NOT IN ('a','b')"),
                 "NOT(OR(WorkflowType = 'a', WorkflowType = 'b'))");
    TD_CHECK_STR(
            qt("CustomIntField NOT IN (1, 2)"),
            "AND(CustomIntField IS NOT NULL, NOT(OR(CustomIntField = 1, CustomIntField = 2)))");
    TD_CHECK_STR(qt("NOT WorkflowType IN ('a')"), "NOT(OR(WorkflowType = 'a'))");
    TD_CHECK_STR(qt("HistoryLength BETWEEN 3 AND 7"),
                 "AND(HistoryLength >= 3, HistoryLength <= 7)");
    TD_CHECK_STR(qt("HistoryLength NOT BETWEEN 3 AND 7"),
                 "OR(HistoryLength < 3, HistoryLength > 7)");
    TD_CHECK_STR(qt("StartTime BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-02T00:00:00Z' AND "
                    "WorkflowId = 'x'"),
                 "AND(StartTime >= 1704067200000000000, StartTime <= 1704153600000000000, "
                 "WorkflowId = 'x')");
    TD_CHECK_STR(qt("WorkflowId STARTS_WITH 'order-'"), "WorkflowId SW 'order-'");
    TD_CHECK_STR(qt("WorkflowId NOT STARTS_WITH 'order-'"), "NOT(WorkflowId SW 'order-')");
    TD_CHECK_STR(qt("CloseTime IS NULL"), "CloseTime IS NULL");
    TD_CHECK_STR(qt("CustomKeywordField is not null"), "CustomKeywordField IS NOT NULL");
}

TD_TEST(fq_custom_attribute_types)
{
    TD_CHECK_STR(qt("CustomKeywordField = 'k'"), "CustomKeywordField = 'k'");
    TD_CHECK_STR(qt("CustomTextField = 'some words'"), "CustomTextField = 'some words'");
    TD_CHECK_STR(qt("CustomIntField > 41"), "CustomIntField > 41");
    TD_CHECK_STR(qt("CustomDoubleField < 2.5"), "CustomDoubleField < 2.5");
    TD_CHECK_STR(qt("CustomDoubleField >= 2"), "CustomDoubleField >= 2");
    TD_CHECK_STR(qt("CustomBoolField = true"), "CustomBoolField = 1");
    TD_CHECK_STR(qt("CustomBoolField != FALSE"), "CustomBoolField != 0");
    /* keyword lists: = is "contains", != is "present and does not contain" */
    TD_CHECK_STR(qt("CustomKeywordListField = 'x'"), "CustomKeywordListField = 'x'");
    TD_CHECK_STR(qt("CustomKeywordListField != 'x'"),
                 "AND(CustomKeywordListField IS NOT NULL, NOT(CustomKeywordListField = 'x'))");
    TD_CHECK_STR(qt("NOT CustomKeywordListField = 'x'"),
                 "AND(CustomKeywordListField IS NOT NULL, NOT(CustomKeywordListField = 'x'))");
    TD_CHECK_STR(qt("CustomKeywordListField IN ('x', 'y')"),
                 "OR(CustomKeywordListField = 'x', CustomKeywordListField = 'y')");
    TD_CHECK_STR(qt("TemporalChangeVersion = 'my-patch'"), "TemporalChangeVersion = 'my-patch'");
    TD_CHECK_STR(qt("TemporalChangeVersion != 'my-patch'"),
                 "AND(TemporalChangeVersion IS NOT NULL, NOT(TemporalChangeVersion = 'my-patch'))");
    TD_CHECK_STR(qt("BuildIds = 'unversioned'"), "BuildIds = 'unversioned'");
    TD_CHECK_STR(qt("BuildIds IN ('unversioned:a', 'versioned:a')"),
                 "OR(BuildIds = 'unversioned:a', BuildIds = 'versioned:a')");
    /* Text: = is a word match in the store; != is "present and none of the words" */
    TD_CHECK_STR(qt("CustomTextField != 'some words'"),
                 "AND(CustomTextField IS NOT NULL, NOT(CustomTextField = 'some words'))");
    TD_CHECK_STR(qt("NOT CustomTextField = 'w'"),
                 "AND(CustomTextField IS NOT NULL, NOT(CustomTextField = 'w'))");
    TD_CHECK_STR(qt("NOT CustomTextField != 'w'"), "CustomTextField = 'w'");
    TD_CHECK_STR(qt("CustomTextField = '--!!--'"),
                 "ERR invalid query: no tokens found filtering on Text search attribute "
                 "CustomTextField at column 19 near ''--!!--''");
    /* lineage: nullable columns (no presence test needed: SQL NULL never matches) */
    TD_CHECK_STR(qt("ParentWorkflowId = 'p'"), "ParentWorkflowId = 'p'");
    TD_CHECK_STR(qt("ParentRunId != 'r'"), "ParentRunId != 'r'");
    TD_CHECK_STR(qt("RootWorkflowId IN ('a', 'b') AND RootRunId IS NOT NULL"),
                 "AND(OR(RootWorkflowId = 'a', RootWorkflowId = 'b'), RootRunId IS NOT NULL)");
    TD_CHECK_STR(qt("ParentWorkflowId IS NULL"), "ParentWorkflowId IS NULL");
    TD_CHECK_STR(qt("ParentWorkflowId STARTS_WITH 'pa'"), "ParentWorkflowId SW 'pa'");
    TD_CHECK_STR(qt("ParentWorkflowId = 3"),
                 "ERR invalid query: invalid value for search attribute ParentWorkflowId of type "
                 "Keyword at column 20 near '3'");
}

TD_TEST(fq_order_by_keys)
{
    /* forms without an index of their own become sort keys (field:type direction) */
    TD_CHECK_STR(qt("ORDER BY ExecutionTime"), "ALL | ExecutionTime:6 ASC");
    TD_CHECK_INT(qt_q.has_order, ==, 1);
    TD_CHECK_STR(qt("ORDER BY CloseTime ASC"), "ALL | CloseTime:6 ASC");
    TD_CHECK_STR(qt("WorkflowType = 'a' ORDER BY HistorySizeBytes DESC, StartTime"),
                 "WorkflowType = 'a' | HistorySizeBytes:3 DESC, StartTime:6 ASC");
    TD_CHECK_STR(qt("ORDER BY CustomIntField DESC, CustomKeywordField, CustomDoubleField"),
                 "ALL | CustomIntField:3 DESC, CustomKeywordField:2 ASC, CustomDoubleField:4 ASC");
    TD_CHECK_STR(qt("ORDER BY `My Attr` desc"), "ALL | My Attr:2 DESC");
    TD_CHECK_STR(qt("ORDER BY ExecutionStatus, CustomDatetimeField DESC"),
                 "ALL | ExecutionStatus:3 ASC, CustomDatetimeField:6 DESC");
    TD_CHECK_STR(qt("ORDER BY RootWorkflowId, CustomBoolField"),
                 "ALL | RootWorkflowId:2 ASC, CustomBoolField:5 ASC");
    /* the indexed forms keep their named order */
    TD_CHECK_STR(qt("ORDER BY StartTime DESC"), "ALL");
    TD_CHECK_INT(qt_q.n_sort, ==, 0);
    TD_CHECK_INT(qt_q.order, ==, TD_STORE_VORDER_START_TIME_DESC);
}

TD_TEST(fq_order_and_group_by)
{
    TD_CHECK_STR(qt("ORDER BY StartTime"), "ALL");
    TD_CHECK_INT(qt_q.order, ==, TD_STORE_VORDER_START_TIME_ASC);
    TD_CHECK_INT(qt_q.has_order, ==, 1);
    TD_CHECK_STR(qt("WorkflowType = 'a' ORDER BY StartTime DESC"), "WorkflowType = 'a'");
    TD_CHECK_INT(qt_q.order, ==, TD_STORE_VORDER_START_TIME_DESC);
    TD_CHECK_STR(qt("order by StartTime asc"), "ALL");
    TD_CHECK_INT(qt_q.order, ==, TD_STORE_VORDER_START_TIME_ASC);
    TD_CHECK_STR(qt("ORDER BY CloseTime DESC"), "ALL");
    TD_CHECK_INT(qt_q.order, ==, TD_STORE_VORDER_DEFAULT);
    TD_CHECK_STR(qt("ORDER BY CloseTime DESC, StartTime DESC"), "ALL");
    TD_CHECK_INT(qt_q.order, ==, TD_STORE_VORDER_DEFAULT);
    TD_CHECK_STR(qt("WorkflowType = 'a'"), "WorkflowType = 'a'");
    TD_CHECK_INT(qt_q.has_order, ==, 0);
    TD_CHECK_INT(qt_q.group_by_status, ==, 0);
    TD_CHECK_STR(qt("GROUP BY ExecutionStatus"), "ALL");
    TD_CHECK_INT(qt_q.group_by_status, ==, 1);
    TD_CHECK_STR(qt("WorkflowType = 'a' GROUP BY ExecutionStatus"), "WorkflowType = 'a'");
    TD_CHECK_INT(qt_q.group_by_status, ==, 1);
}

/* Each error names the offending token and its 1-based column. */
TD_TEST(fq_errors_point_at_the_token)
{
    TD_CHECK_STR(qt("Foo = 'x'"),
                 "ERR invalid query: unknown search attribute Foo at column 1 near 'Foo'");
    TD_CHECK_STR(qt("WorkflowId = 'x' AND Bar = 1"),
                 "ERR invalid query: unknown search attribute Bar at column 22 near 'Bar'");
    TD_CHECK_STR(qt("WorkflowId = "),
                 "ERR invalid query: syntax error: expected a value at column 14 (end of query)");
    TD_CHECK_STR(qt("WorkflowId 'x'"),
                 "ERR invalid query: syntax error: expected an operator after WorkflowId at "
                 "column 12 near ''x''");
    TD_CHECK_STR(qt("WorkflowId = 'x"),
                 "ERR invalid query: unterminated string at column 14 near ''x'");
    TD_CHECK_STR(qt("(WorkflowId = 'x'"),
                 "ERR invalid query: syntax error: expected ')' at column 18 (end of query)");
    TD_CHECK_STR(qt("WorkflowId = 'x')"),
                 "ERR invalid query: syntax error: unexpected token at column 17 near ')'");
    TD_CHECK_STR(qt("WorkflowId = x"),
                 "ERR invalid query: a name cannot be compared with a name (did you forget to "
                 "quote 'x'?) at column 14 near 'x'");
    TD_CHECK_STR(qt("WorkflowId = 'a' AND"),
                 "ERR invalid query: syntax error: expected a search attribute name at column 21 "
                 "(end of query)");
    TD_CHECK_STR(qt("WorkflowId ! 'a'"),
                 "ERR invalid query: syntax error: unexpected '!' at column 12 near '!'");
    TD_CHECK_STR(qt("WorkflowId = 'a' ; drop"),
                 "ERR invalid query: syntax error: unexpected character at column 18 near ';'");
    TD_CHECK_STR(qt("HistoryLength = 'ten'"),
                 "ERR invalid query: invalid value for search attribute HistoryLength of type Int "
                 "at column 17 near ''ten''");
    TD_CHECK_STR(qt("WorkflowId = 5"),
                 "ERR invalid query: invalid value for search attribute WorkflowId of type "
                 "Keyword at column 14 near '5'");
    TD_CHECK_STR(qt("CustomBoolField = 'yes'"),
                 "ERR invalid query: invalid value for search attribute CustomBoolField of type "
                 "Bool at column 19 near ''yes''");
    TD_CHECK_STR(qt("StartTime > 'yesterday'"),
                 "ERR invalid query: unable to parse datetime (expected RFC 3339) at column 13 "
                 "near ''yesterday''");
    TD_CHECK_STR(qt("ExecutionStatus = 'Sleeping'"),
                 "ERR invalid query: invalid ExecutionStatus value (expected Running, Completed, "
                 "Failed, Canceled, Terminated, ContinuedAsNew or TimedOut) at column 19 near "
                 "''Sleeping''");
    TD_CHECK_STR(qt("ExecutionStatus = 9"),
                 "ERR invalid query: invalid ExecutionStatus value (expected Running, Completed, "
                 "Failed, Canceled, Terminated, ContinuedAsNew or TimedOut) at column 19 near '9'");
    TD_CHECK_STR(qt("ExecutionStatus > 'Running'"),
                 "ERR invalid query: operator > is not supported for search attribute "
                 "ExecutionStatus of type Keyword at column 17 near '>'");
    TD_CHECK_STR(qt("CustomTextField STARTS_WITH 'a'"),
                 "ERR invalid query: operator STARTS_WITH is not supported for search attribute "
                 "CustomTextField of type Text at column 17 near 'STARTS_WITH'");
    TD_CHECK_STR(qt("CustomKeywordListField < 'a'"),
                 "ERR invalid query: operator < is not supported for search attribute "
                 "CustomKeywordListField of type KeywordList at column 24 near '<'");
    TD_CHECK_STR(qt("HistoryLength NOT STARTS_WITH 'a'"),
                 "ERR invalid query: operator NOT STARTS_WITH is not supported for search "
                 "attribute HistoryLength of type Int at column 15 near 'NOT'");
    TD_CHECK_STR(qt("CustomTextField = '  '"),
                 "ERR invalid query: no tokens found filtering on Text search attribute "
                 "CustomTextField at column 19 near ''  ''");
    TD_CHECK_STR(qt("WorkflowId IN 'a'"),
                 "ERR invalid query: syntax error: expected '(' after IN at column 15 near ''a''");
    TD_CHECK_STR(qt("WorkflowId IN ('a' 'b')"),
                 "ERR invalid query: syntax error: expected ',' or ')' in IN list at column 20 "
                 "near ''b''");
    TD_CHECK_STR(qt("HistoryLength BETWEEN 1 OR 2"),
                 "ERR invalid query: syntax error: expected AND at column 25 near 'OR'");
    TD_CHECK_STR(qt("CloseTime IS 'x'"),
                 "ERR invalid query: syntax error: expected NULL at column 14 near ''x''");
    TD_CHECK_STR(qt("WorkflowId NOT = 'a'"),
                 "ERR invalid query: syntax error: expected IN, BETWEEN or STARTS_WITH after NOT "
                 "at column 16 near '='");
    TD_CHECK_STR(qt("WorkflowId LIKE 'a%'"),
                 "ERR invalid query: operator LIKE is not supported (use STARTS_WITH) at column "
                 "12 near 'LIKE'");
    TD_CHECK_STR(qt("WorkflowId = 'a' LIMIT 5"),
                 "ERR invalid query: LIMIT is not supported (use the page size) at column 18 "
                 "near 'LIMIT'");
    TD_CHECK_STR(qt("`WorkflowId = 'a'"),
                 "ERR invalid query: unterminated backquoted name at column 1 near '`WorkflowId = "
                 "'a''");
}

TD_TEST(fq_errors_of_clauses_and_unsupported_attributes)
{
    TD_CHECK_STR(qt("GROUP BY WorkflowType"),
                 "ERR invalid query: GROUP BY is supported for ExecutionStatus only, not for "
                 "search attribute WorkflowType at column 10 near 'WorkflowType'");
    TD_CHECK_STR(qt("GROUP BY ExecutionStatus, WorkflowType"),
                 "ERR invalid query: GROUP BY supports a single field only at column 25 near ','");
    TD_CHECK_STR(qt("GROUP ExecutionStatus"),
                 "ERR invalid query: syntax error: expected BY at column 7 near 'ExecutionStatus'");
    TD_CHECK_STR(qt("ORDER BY CustomTextField"),
                 "ERR invalid query: cannot sort by search attribute CustomTextField of type Text "
                 "at column 10 near 'CustomTextField'");
    TD_CHECK_STR(qt("ORDER BY StartTime, CustomKeywordListField DESC"),
                 "ERR invalid query: cannot sort by search attribute CustomKeywordListField of "
                 "type KeywordList at column 21 near 'CustomKeywordListField'");
    TD_CHECK_STR(qt("ORDER BY StartTime, CloseTime, RunId, WorkflowId"),
                 "ERR invalid query: too many ORDER BY keys (at most 3) at column 39 near "
                 "'WorkflowId'");
    TD_CHECK_STR(qt("ORDER BY Nope"),
                 "ERR invalid query: unknown search attribute Nope at column 10 near 'Nope'");
    TD_CHECK_STR(qt("ORDER BY StartTime DESC CloseTime"),
                 "ERR invalid query: syntax error: unexpected token at column 25 near "
                 "'CloseTime'");
    TD_CHECK_STR(qt("TemporalSchedulePaused = true"),
                 "ERR invalid query: search attribute TemporalSchedulePaused is not supported by "
                 "temporald's visibility yet at column 1 near 'TemporalSchedulePaused'");
    TD_CHECK_STR(qt("WorkflowId = 'a' OR BinaryChecksums = 'r'"),
                 "ERR invalid query: search attribute BinaryChecksums is not supported by "
                 "temporald's visibility yet at column 21 near 'BinaryChecksums'");
    /* ExecutionDuration takes Go durations, hh:mm:ss and integer nanoseconds */
    TD_CHECK_STR(qt("ExecutionDuration > '1h30m'"), "ExecutionDuration > 5400000000000");
    TD_CHECK_STR(qt("ExecutionDuration <= '00:00:02'"), "ExecutionDuration <= 2000000000");
    TD_CHECK_STR(qt("ExecutionDuration = 5"), "ExecutionDuration = 5");
    TD_CHECK_STR(qt("ExecutionDuration IS NULL"), "ExecutionDuration IS NULL");
    TD_CHECK_STR(qt("ExecutionDuration > 'soon'"),
                 "ERR invalid query: invalid ExecutionDuration value (expected a duration such as "
                 "'1h30m', 'hh:mm:ss' or integer nanoseconds) at column 21 near ''soon''");
    /* too deep a nesting is refused before it reaches the store */
    TD_CHECK_STR(qt("((((((((((((((((((WorkflowId = 'a'))))))))))))))))))"),
                 "ERR invalid query: query nested too deeply (at most 12 levels) at column 13 near "
                 "'('");
}

TD_TEST(fq_too_many_in_values)
{
    char q[4096];
    size_t n = 0;

    n += (size_t)snprintf(q + n, sizeof(q) - n, "RunId IN (");
    for (int i = 0; i < 101; i++) {
        n += (size_t)snprintf(q + n, sizeof(q) - n, "%s'%d'", i ? "," : "", i);
    }
    snprintf(q + n, sizeof(q) - n, ")");
    TD_CHECK_CONTAINS(qt(q), "ERR invalid query: too many values in IN (at most 100) at column");
    q[n - 6] = ')'; /* 100 values or fewer compile */
    q[n - 5] = '\0';
    TD_CHECK(strncmp(qt(q), "OR(RunId = '0', ", 16) == 0);
}

TD_TEST(fq_value_parsers)
{
    int64_t ns = 0;

    TD_CHECK_INT(td_fe_query_parse_time("1970-01-01T00:00:00Z", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 0);
    TD_CHECK_INT(td_fe_query_parse_time("2024-02-29T12:00:00.123456789-02:30", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 1709217000123456789LL);
    TD_CHECK_INT(td_fe_query_parse_time("2024-02-29", &ns), ==, TD_EINVAL);
    TD_CHECK_INT(td_fe_query_parse_time("2024-02-29T12:00:00", &ns), ==, TD_EINVAL);
    TD_CHECK_INT(td_fe_query_parse_time("2024-13-01T00:00:00Z", &ns), ==, TD_EINVAL);
    TD_CHECK_INT(td_fe_query_parse_time("2024-01-01T00:00:00Zjunk", &ns), ==, TD_EINVAL);

    TD_CHECK_INT(td_fe_query_parse_duration("1h30m", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 5400000000000LL);
    TD_CHECK_INT(td_fe_query_parse_duration("1.5s", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 1500000000LL);
    TD_CHECK_INT(td_fe_query_parse_duration("300ms", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 300000000LL);
    TD_CHECK_INT(td_fe_query_parse_duration("-2h", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, -7200000000000LL);
    TD_CHECK_INT(td_fe_query_parse_duration("2d", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 172800000000000LL);
    TD_CHECK_INT(td_fe_query_parse_duration("10us", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 10000);
    TD_CHECK_INT(td_fe_query_parse_duration("01:02:03", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 3723000000000LL);
    TD_CHECK_INT(td_fe_query_parse_duration("42", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 42);
    TD_CHECK_INT(td_fe_query_parse_duration("0", &ns), ==, TD_OK);
    TD_CHECK_INT(ns, ==, 0);
    TD_CHECK_INT(td_fe_query_parse_duration("5", &ns), ==, TD_OK);
    TD_CHECK_INT(td_fe_query_parse_duration("5x", &ns), ==, TD_EINVAL);
    TD_CHECK_INT(td_fe_query_parse_duration("h", &ns), ==, TD_EINVAL);
    TD_CHECK_INT(td_fe_query_parse_duration("", &ns), ==, TD_EINVAL);

    TD_CHECK_STR(td_fe_query_status_name(1), "Running");
    TD_CHECK_STR(td_fe_query_status_name(7), "TimedOut");
    TD_CHECK(td_fe_query_status_name(0) == NULL);
    TD_CHECK(td_fe_query_status_name(8) == NULL);
}
