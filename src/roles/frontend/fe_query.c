/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The visibility query language (see fe_query.h): tokens, a recursive-descent parser that
 * builds a small syntax tree while it checks names, operators and values against the search
 * attribute types, and a compiler from that tree to the store's filter tree. Negations are
 * pushed down to the comparisons (De Morgan), so that a comparison on an attribute a record
 * lacks is false whether or not it sits under a NOT, as SQL's three-valued logic has it: the
 * store's NOT would otherwise match the records without the attribute.
 *
 * Grammar (keywords case-insensitive; names are identifiers or `backquoted`):
 *
 *   query   := [or] [GROUP BY name] [ORDER BY name [ASC|DESC] {, name [ASC|DESC]}]
 *   or      := and {OR and}
 *   and     := unary {AND unary}
 *   unary   := NOT unary | '(' or ')' | pred
 *   pred    := name cmp value | name [NOT] IN '(' value {, value} ')'
 *            | name [NOT] BETWEEN value AND value | name [NOT] STARTS_WITH value
 *            | name IS [NOT] NULL
 *   cmp     := = | != | <> | < | <= | > | >=
 *   value   := 'string' | "string" | [-]number | TRUE | FALSE
 */
#include "roles/frontend/fe_query.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"
#include "mem.h"

/* Deepest nesting of parentheses and NOTs. Keeps the parser's stack bounded and the compiled
 * filter within the store's depth limit of 32 (each level adds at most an OR and an AND node,
 * a predicate at most four more). */
#define TD_FQ_MAX_DEPTH 12
/* Most values in one IN list (the SQLite backend binds at most 256 values per query). */
#define TD_FQ_MAX_IN 100

/* ---- tokens ---- */

enum {
    TD_FQ_END = 0,
    TD_FQ_IDENT,  /* a bare word (keywords included) */
    TD_FQ_QIDENT, /* a `backquoted` name */
    TD_FQ_STRING,
    TD_FQ_NUMBER,
    TD_FQ_OP, /* = != <> < <= > >= */
    TD_FQ_LPAREN,
    TD_FQ_RPAREN,
    TD_FQ_COMMA,
};

typedef struct {
    int kind;
    int col;          /* 1-based byte column of the first character */
    const char *raw;  /* as written (arena) */
    const char *text; /* identifier / unescaped string / number / operator (arena) */
} td_fq_tok_t;

/* ---- attributes ---- */

enum {
    TD_FQ_A_COLUMN = 1, /* a column of every record (NULL: CloseTime while open, the parent
                         * ones without a parent; SQL's NULL logic keeps negations false) */
    TD_FQ_A_CUSTOM,     /* a typed search attribute a record may lack */
    TD_FQ_A_STATUS,     /* ExecutionStatus: names in the query, numbers in the store */
    TD_FQ_A_DURATION,   /* ExecutionDuration: Go durations in the query, ns in the store
                         * (close - execution time: NULL, so never matching, while open) */
    TD_FQ_A_MISSING,    /* a system attribute temporald does not record yet */
};

typedef struct {
    const char *name;
    int type; /* td_store_sa_type_t as the query language sees it */
    int kind; /* TD_FQ_A_* */
} td_fq_attr_t;

static const td_fq_attr_t td_fq_system[] = {
    { "WorkflowId", TD_STORE_SA_KEYWORD, TD_FQ_A_COLUMN },
    { "RunId", TD_STORE_SA_KEYWORD, TD_FQ_A_COLUMN },
    { "WorkflowType", TD_STORE_SA_KEYWORD, TD_FQ_A_COLUMN },
    { "TaskQueue", TD_STORE_SA_KEYWORD, TD_FQ_A_COLUMN },
    { "ExecutionStatus", TD_STORE_SA_KEYWORD, TD_FQ_A_STATUS },
    { "StartTime", TD_STORE_SA_DATETIME, TD_FQ_A_COLUMN },
    { "CloseTime", TD_STORE_SA_DATETIME, TD_FQ_A_COLUMN },
    { "ExecutionTime", TD_STORE_SA_DATETIME, TD_FQ_A_COLUMN },
    { "HistoryLength", TD_STORE_SA_INT, TD_FQ_A_COLUMN },
    { "HistorySizeBytes", TD_STORE_SA_INT, TD_FQ_A_COLUMN },
    { "ExecutionDuration", TD_STORE_SA_INT, TD_FQ_A_DURATION },
    /* Upserted by SDKs with their type in the payload metadata: indexed like custom ones. */
    { "TemporalChangeVersion", TD_STORE_SA_KEYWORD_LIST, TD_FQ_A_CUSTOM },
    { "ParentWorkflowId", TD_STORE_SA_KEYWORD, TD_FQ_A_COLUMN },
    { "ParentRunId", TD_STORE_SA_KEYWORD, TD_FQ_A_COLUMN },
    { "RootWorkflowId", TD_STORE_SA_KEYWORD, TD_FQ_A_COLUMN },
    { "RootRunId", TD_STORE_SA_KEYWORD, TD_FQ_A_COLUMN },
    { "BuildIds", TD_STORE_SA_KEYWORD_LIST, TD_FQ_A_CUSTOM }, /* set by history */
    { "BinaryChecksums", TD_STORE_SA_KEYWORD_LIST, TD_FQ_A_MISSING },
    { "StateTransitionCount", TD_STORE_SA_INT, TD_FQ_A_MISSING },
    { "TemporalNamespaceDivision", TD_STORE_SA_KEYWORD, TD_FQ_A_MISSING },
    { "TemporalScheduledById", TD_STORE_SA_KEYWORD, TD_FQ_A_MISSING },
    { "TemporalScheduledStartTime", TD_STORE_SA_DATETIME, TD_FQ_A_MISSING },
    { "TemporalSchedulePaused", TD_STORE_SA_BOOL, TD_FQ_A_MISSING },
    { "TemporalWorkerDeployment", TD_STORE_SA_KEYWORD, TD_FQ_A_MISSING },
    { "TemporalWorkerDeploymentVersion", TD_STORE_SA_KEYWORD, TD_FQ_A_MISSING },
    { "TemporalWorkflowVersioningBehavior", TD_STORE_SA_KEYWORD, TD_FQ_A_MISSING },
    { "TemporalPauseInfo", TD_STORE_SA_KEYWORD_LIST, TD_FQ_A_MISSING },
    { "TemporalReportedProblems", TD_STORE_SA_KEYWORD_LIST, TD_FQ_A_MISSING },
    { "BatcherNamespace", TD_STORE_SA_KEYWORD, TD_FQ_A_MISSING },
    { "BatcherUser", TD_STORE_SA_KEYWORD, TD_FQ_A_MISSING },
};

static const char *const td_fq_status_names[] = {
    NULL, "Running", "Completed", "Failed", "Canceled", "Terminated", "ContinuedAsNew", "TimedOut",
};
static const char *const td_fq_status_enum[] = {
    NULL,
    "WORKFLOW_EXECUTION_STATUS_RUNNING",
    "WORKFLOW_EXECUTION_STATUS_COMPLETED",
    "WORKFLOW_EXECUTION_STATUS_FAILED",
    "WORKFLOW_EXECUTION_STATUS_CANCELED",
    "WORKFLOW_EXECUTION_STATUS_TERMINATED",
    "WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW",
    "WORKFLOW_EXECUTION_STATUS_TIMED_OUT",
};

static const char *td_fq_type_name(int type)
{
    switch (type) {
    case TD_STORE_SA_TEXT:
        return "Text";
    case TD_STORE_SA_KEYWORD:
        return "Keyword";
    case TD_STORE_SA_INT:
        return "Int";
    case TD_STORE_SA_DOUBLE:
        return "Double";
    case TD_STORE_SA_BOOL:
        return "Bool";
    case TD_STORE_SA_DATETIME:
        return "Datetime";
    case TD_STORE_SA_KEYWORD_LIST:
        return "KeywordList";
    default:
        return "Unspecified";
    }
}

const char *td_fe_query_status_name(int status)
{
    return status > 0 && status < (int)TD_ARRAY_LEN(td_fq_status_names) ? td_fq_status_names[status]
                                                                        : NULL;
}

/* ---- syntax tree ---- */

enum { TD_FQ_N_AND = 1, TD_FQ_N_OR, TD_FQ_N_NOT, TD_FQ_N_PRED };

/* Predicate operators besides the comparisons (which use td_store_vf_op_t). */
enum {
    TD_FQ_P_IN = 100,
    TD_FQ_P_NOT_IN,
    TD_FQ_P_BETWEEN,
    TD_FQ_P_NOT_BETWEEN,
    TD_FQ_P_NOT_STARTS_WITH,
};

typedef struct td_fq_node_s {
    int kind;
    struct td_fq_node_s *l, *r; /* AND/OR: both; NOT: l */
    td_fq_attr_t attr;          /* PRED */
    int op;                     /* PRED: TD_STORE_VF_* or TD_FQ_P_* */
    td_store_sa_t *vals;
    int n_vals;
} td_fq_node_t;

typedef struct {
    td_arena_t *a;
    const char *text;
    td_fq_tok_t *toks;
    int n_toks, pos;
    int depth;
    td_fe_query_sa_fn sa_type;
    const void *sa_arg;
    const char *err;
} td_fq_t;

/* Sets the error (the first one wins) naming tok; returns TD_EINVAL. */
__attribute__((format(printf, 3, 4))) static int td_fq_fail(td_fq_t *q, const td_fq_tok_t *tok,
                                                            const char *fmt, ...)
{
    char what[512];
    va_list ap;

    if (q->err == NULL) {
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (tok->kind == TD_FQ_END) {
            q->err = td_arena_printf(q->a, "invalid query: %s at column %d (end of query)", what,
                                     tok->col);
        } else {
            q->err = td_arena_printf(q->a, "invalid query: %s at column %d near '%s'", what,
                                     tok->col, tok->raw);
        }
    }
    return TD_EINVAL;
}

/* ---- lexer ---- */

static int td_fq_word_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || (c & 0x80);
}

/* Reads a quoted string starting at s[*i] (the quote); SQL doubling and backslash escapes.
 * Returns the text, or NULL when unterminated. */
static char *td_fq_lex_string(td_fq_t *q, size_t *i)
{
    const char *s = q->text;
    char quote = s[*i];
    size_t n = strlen(s + *i);
    char *out = td_arena_alloc(q->a, n + 1), *o = out;
    size_t k = *i + 1;

    for (;;) {
        char c = s[k];
        if (c == '\0') {
            return NULL;
        }
        if (c == quote && s[k + 1] == quote) {
            *o++ = quote;
            k += 2;
        } else if (c == quote) {
            k++;
            break;
        } else if (c == '\\' && s[k + 1] != '\0') {
            char e = s[k + 1];
            *o++ = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == '0' ? '\0' : e;
            k += 2;
        } else {
            *o++ = c;
            k++;
        }
    }
    *o = '\0';
    *i = k;
    return out;
}

static void td_fq_push(td_fq_t *q, int *cap, int kind, size_t start, size_t end, const char *text)
{
    td_fq_tok_t *t;

    if (q->n_toks == *cap) {
        td_fq_tok_t *nt;
        *cap *= 2;
        nt = td_arena_alloc(q->a, sizeof(*nt) * (size_t)*cap);
        memcpy(nt, q->toks, sizeof(*nt) * (size_t)q->n_toks);
        q->toks = nt;
    }
    t = &q->toks[q->n_toks++];
    t->kind = kind;
    t->col = (int)start + 1;
    t->raw = td_arena_strndup(q->a, q->text + start, end - start);
    t->text = text != NULL ? text : t->raw;
}

static int td_fq_lex(td_fq_t *q)
{
    const char *s = q->text;
    size_t i = 0;
    int cap = 32, rc = TD_OK;

    q->toks = td_arena_alloc(q->a, sizeof(*q->toks) * (size_t)cap);
    while (rc == TD_OK) {
        size_t start;
        unsigned char c;

        while (isspace((unsigned char)s[i])) {
            i++;
        }
        start = i;
        c = (unsigned char)s[i];
        if (c == '\0') {
            td_fq_push(q, &cap, TD_FQ_END, i, i, "");
            break;
        }
        if (c == '\'' || c == '"') {
            char *str = td_fq_lex_string(q, &i);
            if (str == NULL) {
                td_fq_push(q, &cap, TD_FQ_STRING, start, strlen(s), "");
                rc = td_fq_fail(q, &q->toks[q->n_toks - 1], "unterminated string");
            } else {
                td_fq_push(q, &cap, TD_FQ_STRING, start, i, str);
            }
        } else if (c == '`') {
            const char *close = strchr(s + i + 1, '`');
            if (close == NULL) {
                td_fq_push(q, &cap, TD_FQ_QIDENT, start, strlen(s), "");
                rc = td_fq_fail(q, &q->toks[q->n_toks - 1], "unterminated backquoted name");
            } else {
                i = (size_t)(close - s) + 1;
                td_fq_push(q, &cap, TD_FQ_QIDENT, start, i,
                           td_arena_strndup(q->a, s + start + 1, i - start - 2));
            }
        } else if (isdigit(c) || ((c == '-' || c == '+' || c == '.') &&
                                  (isdigit((unsigned char)s[i + 1]) ||
                                   (s[i + 1] == '.' && isdigit((unsigned char)s[i + 2]))))) {
            i++;
            while (isalnum((unsigned char)s[i]) || s[i] == '.' ||
                   ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E'))) {
                i++;
            }
            td_fq_push(q, &cap, TD_FQ_NUMBER, start, i, NULL);
        } else if (isalpha(c) || c == '_' || (c & 0x80)) {
            while (td_fq_word_char((unsigned char)s[i])) {
                i++;
            }
            td_fq_push(q, &cap, TD_FQ_IDENT, start, i, NULL);
        } else if (c == '(' || c == ')' || c == ',') {
            i++;
            td_fq_push(q, &cap,
                       c == '('   ? TD_FQ_LPAREN
                       : c == ')' ? TD_FQ_RPAREN
                                  : TD_FQ_COMMA,
                       start, i, NULL);
        } else if (c == '=' || c == '<' || c == '>' || c == '!') {
            i++;
            if ((c == '<' && (s[i] == '=' || s[i] == '>')) || (c != '=' && s[i] == '=')) {
                i++;
            } else if (c == '=' && s[i] == '=') {
                i++; /* "==" is taken as "=" */
            }
            td_fq_push(q, &cap, TD_FQ_OP, start, i, NULL);
            if (strcmp(q->toks[q->n_toks - 1].raw, "!") == 0) {
                rc = td_fq_fail(q, &q->toks[q->n_toks - 1], "syntax error: unexpected '!'");
            }
        } else {
            i++;
            while ((s[i] & 0xc0) == 0x80) {
                i++; /* the rest of a UTF-8 sequence */
            }
            td_fq_push(q, &cap, TD_FQ_OP, start, i, NULL);
            rc = td_fq_fail(q, &q->toks[q->n_toks - 1], "syntax error: unexpected character");
        }
    }
    return rc;
}

/* ---- parser helpers ---- */

static const td_fq_tok_t *td_fq_peek(const td_fq_t *q)
{
    return &q->toks[q->pos];
}

static int td_fq_is_kw(const td_fq_tok_t *t, const char *kw)
{
    return t->kind == TD_FQ_IDENT && strcasecmp(t->text, kw) == 0;
}

/* Consumes the keyword kw if it comes next. */
static int td_fq_accept(td_fq_t *q, const char *kw)
{
    int yes = td_fq_is_kw(td_fq_peek(q), kw);
    if (yes) {
        q->pos++;
    }
    return yes;
}

static int td_fq_expect(td_fq_t *q, const char *kw)
{
    return td_fq_accept(q, kw) ? TD_OK
                               : td_fq_fail(q, td_fq_peek(q), "syntax error: expected %s", kw);
}

static const char *const td_fq_reserved[] = {
    "AND",   "OR", "NOT",   "IN",   "BETWEEN", "IS",  "NULL", "STARTS_WITH", "ORDER",
    "GROUP", "BY", "LIMIT", "TRUE", "FALSE",   "ASC", "DESC", "LIKE",
};

static int td_fq_is_reserved(const td_fq_tok_t *t)
{
    int r = 0;
    for (size_t i = 0; i < TD_ARRAY_LEN(td_fq_reserved) && t->kind == TD_FQ_IDENT; i++) {
        r |= strcasecmp(td_fq_reserved[i], t->text) == 0;
    }
    return r;
}

/* Resolves the name at the cursor into *attr (consuming it). Unknown names and attributes
 * temporald does not record are errors naming the token. */
static int td_fq_name(td_fq_t *q, td_fq_attr_t *attr, const td_fq_tok_t **where)
{
    const td_fq_tok_t *t = td_fq_peek(q);
    const td_fq_attr_t *sys = NULL;
    int type, rc = TD_OK;

    *where = t;
    if ((t->kind != TD_FQ_IDENT && t->kind != TD_FQ_QIDENT) || td_fq_is_reserved(t)) {
        rc = td_fq_fail(q, t, "syntax error: expected a search attribute name");
        goto out;
    }
    q->pos++;
    for (size_t i = 0; i < TD_ARRAY_LEN(td_fq_system) && sys == NULL; i++) {
        if (strcmp(td_fq_system[i].name, t->text) == 0) {
            sys = &td_fq_system[i];
        }
    }
    if (sys != NULL) {
        *attr = *sys;
        if (sys->kind == TD_FQ_A_MISSING) {
            rc = td_fq_fail(q, t,
                            "search attribute %s is not supported by temporald's visibility yet",
                            t->text);
        }
        goto out;
    }
    type = q->sa_type != NULL && t->text[0] != '\0' ? q->sa_type(q->sa_arg, t->text) : 0;
    if (type < TD_STORE_SA_TEXT || type > TD_STORE_SA_KEYWORD_LIST) {
        rc = td_fq_fail(q, t, "unknown search attribute %s", t->text);
        goto out;
    }
    attr->name = t->text;
    attr->type = type;
    attr->kind = TD_FQ_A_CUSTOM;
out:
    return rc;
}

static int td_fq_parse_int(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return TD_EINVAL;
    }
    *out = v;
    return TD_OK;
}

static int td_fq_parse_double(const char *s, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v)) {
        return TD_EINVAL;
    }
    *out = v;
    return TD_OK;
}

/* Whether a Text value has at least one word (td_store_text_words). */
static int td_fq_has_word(td_fq_t *q, const char *s)
{
    const char *w[1];
    return td_store_text_words(s, q->a, w, 1) > 0;
}

/* Reads one literal for attr into *v, checking its type. */
static int td_fq_value(td_fq_t *q, const td_fq_attr_t *attr, td_store_sa_t *v)
{
    const td_fq_tok_t *t = td_fq_peek(q);
    int is_str = t->kind == TD_FQ_STRING, is_num = t->kind == TD_FQ_NUMBER;
    int is_bool = td_fq_is_kw(t, "true") || td_fq_is_kw(t, "false");
    int rc = TD_OK;

    memset(v, 0, sizeof(*v));
    v->type = attr->type;
    if (!is_str && !is_num && !is_bool) {
        if (t->kind == TD_FQ_IDENT && !td_fq_is_reserved(t)) {
            rc = td_fq_fail(q, t,
                            "a name cannot be compared with a name (did you forget to quote "
                            "'%s'?)",
                            t->text);
        } else {
            rc = td_fq_fail(q, t, "syntax error: expected a value");
        }
        goto out;
    }
    q->pos++;
    if (attr->kind == TD_FQ_A_STATUS) {
        int64_t n = 0;
        v->type = TD_STORE_SA_INT;
        for (int s = 1; is_str && s < (int)TD_ARRAY_LEN(td_fq_status_names) && n == 0; s++) {
            if (strcasecmp(t->text, td_fq_status_names[s]) == 0 ||
                strcasecmp(t->text, td_fq_status_enum[s]) == 0) {
                n = s;
            }
        }
        if (is_num && td_fq_parse_int(t->text, &n) == TD_OK &&
            (n < 1 || n >= (int64_t)TD_ARRAY_LEN(td_fq_status_names))) {
            n = 0;
        }
        if (n == 0) {
            rc = td_fq_fail(q, t,
                            "invalid ExecutionStatus value (expected Running, Completed, Failed, "
                            "Canceled, Terminated, ContinuedAsNew or TimedOut)");
        }
        v->i = n;
        goto out;
    }
    if (attr->kind == TD_FQ_A_DURATION) {
        if (is_bool || td_fe_query_parse_duration(t->text, &v->i) != TD_OK) {
            rc = td_fq_fail(q, t,
                            "invalid ExecutionDuration value (expected a duration such as '1h30m', "
                            "'hh:mm:ss' or integer nanoseconds)");
        }
        goto out;
    }
    switch (attr->type) {
    case TD_STORE_SA_KEYWORD:
    case TD_STORE_SA_KEYWORD_LIST:
    case TD_STORE_SA_TEXT:
        if (!is_str) {
            break;
        }
        v->s = t->text;
        if (attr->type == TD_STORE_SA_TEXT && !td_fq_has_word(q, t->text)) {
            rc = td_fq_fail(q, t, "no tokens found filtering on Text search attribute %s",
                            attr->name);
        }
        goto out;
    case TD_STORE_SA_INT:
        if (is_num && td_fq_parse_int(t->text, &v->i) == TD_OK) {
            goto out;
        }
        break;
    case TD_STORE_SA_DOUBLE:
        if (is_num && td_fq_parse_double(t->text, &v->d) == TD_OK) {
            goto out;
        }
        break;
    case TD_STORE_SA_BOOL:
        if (is_bool) {
            v->i = td_fq_is_kw(t, "true");
            goto out;
        }
        break;
    case TD_STORE_SA_DATETIME:
        if (is_num && td_fq_parse_int(t->text, &v->i) == TD_OK) {
            goto out;
        }
        if (is_str) {
            if (td_fe_query_parse_time(t->text, &v->i) != TD_OK) {
                rc = td_fq_fail(q, t, "unable to parse datetime (expected RFC 3339)");
            }
            goto out;
        }
        break;
    default:
        break;
    }
    rc = td_fq_fail(q, t, "invalid value for search attribute %s of type %s", attr->name,
                    td_fq_type_name(attr->type));
out:
    return rc;
}

/* Whether attr's type takes op. */
static int td_fq_op_ok(const td_fq_attr_t *attr, int op)
{
    int eq = op == TD_STORE_VF_EQ || op == TD_STORE_VF_NE || op == TD_FQ_P_IN ||
             op == TD_FQ_P_NOT_IN;
    int range = op == TD_STORE_VF_LT || op == TD_STORE_VF_LE || op == TD_STORE_VF_GT ||
                op == TD_STORE_VF_GE || op == TD_FQ_P_BETWEEN || op == TD_FQ_P_NOT_BETWEEN;
    int prefix = op == TD_STORE_VF_STARTS_WITH || op == TD_FQ_P_NOT_STARTS_WITH;

    if (op == TD_STORE_VF_IS_NULL || op == TD_STORE_VF_IS_NOT_NULL) {
        return 1;
    }
    if (attr->kind == TD_FQ_A_STATUS) {
        return eq;
    }
    switch (attr->type) {
    case TD_STORE_SA_KEYWORD:
        return eq || range || prefix;
    case TD_STORE_SA_KEYWORD_LIST:
        return eq;
    case TD_STORE_SA_TEXT:
        return op == TD_STORE_VF_EQ || op == TD_STORE_VF_NE;
    case TD_STORE_SA_BOOL:
        return op == TD_STORE_VF_EQ || op == TD_STORE_VF_NE;
    default:
        return eq || range;
    }
}

static td_fq_node_t *td_fq_node(td_fq_t *q, int kind)
{
    td_fq_node_t *n = td_arena_calloc(q->a, sizeof(*n));
    n->kind = kind;
    return n;
}

static int td_fq_cmp_op(const char *s)
{
    if (strcmp(s, "=") == 0 || strcmp(s, "==") == 0) {
        return TD_STORE_VF_EQ;
    }
    if (strcmp(s, "!=") == 0 || strcmp(s, "<>") == 0) {
        return TD_STORE_VF_NE;
    }
    if (strcmp(s, "<") == 0) {
        return TD_STORE_VF_LT;
    }
    if (strcmp(s, "<=") == 0) {
        return TD_STORE_VF_LE;
    }
    if (strcmp(s, ">") == 0) {
        return TD_STORE_VF_GT;
    }
    if (strcmp(s, ">=") == 0) {
        return TD_STORE_VF_GE;
    }
    return 0;
}

static int td_fq_pred(td_fq_t *q, td_fq_node_t **out)
{
    td_fq_node_t *n = td_fq_node(q, TD_FQ_N_PRED);
    const td_fq_tok_t *name_tok, *op_tok;
    int rc, negated = 0;

    rc = td_fq_name(q, &n->attr, &name_tok);
    if (rc != TD_OK) {
        goto out;
    }
    op_tok = td_fq_peek(q);
    if (op_tok->kind == TD_FQ_OP) {
        q->pos++;
        n->op = td_fq_cmp_op(op_tok->text);
        if (n->op == 0) {
            rc = td_fq_fail(q, op_tok, "syntax error: unknown operator");
            goto out;
        }
    } else if (td_fq_accept(q, "is")) {
        int not = td_fq_accept(q, "not");
        rc = td_fq_expect(q, "NULL");
        n->op = not ? TD_STORE_VF_IS_NOT_NULL : TD_STORE_VF_IS_NULL;
        goto out;
    } else {
        negated = td_fq_accept(q, "not");
        if (td_fq_accept(q, "in")) {
            n->op = negated ? TD_FQ_P_NOT_IN : TD_FQ_P_IN;
        } else if (td_fq_accept(q, "between")) {
            n->op = negated ? TD_FQ_P_NOT_BETWEEN : TD_FQ_P_BETWEEN;
        } else if (td_fq_accept(q, "starts_with")) {
            n->op = negated ? TD_FQ_P_NOT_STARTS_WITH : TD_STORE_VF_STARTS_WITH;
        } else if (td_fq_is_kw(td_fq_peek(q), "like")) {
            rc = td_fq_fail(q, td_fq_peek(q), "operator LIKE is not supported (use STARTS_WITH)");
            goto out;
        } else {
            rc = td_fq_fail(q, td_fq_peek(q),
                            negated ? "syntax error: expected IN, BETWEEN or STARTS_WITH after NOT"
                                    : "syntax error: expected an operator after %s",
                            name_tok->text);
            goto out;
        }
    }
    if (!td_fq_op_ok(&n->attr, n->op)) {
        rc = td_fq_fail(q, op_tok,
                        "operator %s%s is not supported for search attribute %s of type %s",
                        negated ? "NOT " : "", td_fq_peek(q)[-1].raw, n->attr.name,
                        td_fq_type_name(n->attr.type));
        goto out;
    }
    if (n->op == TD_FQ_P_IN || n->op == TD_FQ_P_NOT_IN) {
        int cap = 8;
        if (td_fq_peek(q)->kind != TD_FQ_LPAREN) {
            rc = td_fq_fail(q, td_fq_peek(q), "syntax error: expected '(' after IN");
            goto out;
        }
        q->pos++;
        n->vals = td_arena_alloc(q->a, sizeof(*n->vals) * (size_t)cap);
        for (;;) {
            if (n->n_vals == TD_FQ_MAX_IN) {
                rc = td_fq_fail(q, td_fq_peek(q), "too many values in IN (at most %d)",
                                TD_FQ_MAX_IN);
                goto out;
            }
            if (n->n_vals == cap) {
                td_store_sa_t *nv = td_arena_alloc(q->a, sizeof(*nv) * (size_t)cap * 2);
                memcpy(nv, n->vals, sizeof(*nv) * (size_t)cap);
                n->vals = nv;
                cap *= 2;
            }
            rc = td_fq_value(q, &n->attr, &n->vals[n->n_vals]);
            if (rc != TD_OK) {
                goto out;
            }
            n->n_vals++;
            if (td_fq_peek(q)->kind == TD_FQ_COMMA) {
                q->pos++;
            } else if (td_fq_peek(q)->kind == TD_FQ_RPAREN) {
                q->pos++;
                break;
            } else {
                rc = td_fq_fail(q, td_fq_peek(q), "syntax error: expected ',' or ')' in IN list");
                goto out;
            }
        }
    } else if (n->op == TD_FQ_P_BETWEEN || n->op == TD_FQ_P_NOT_BETWEEN) {
        n->vals = td_arena_alloc(q->a, sizeof(*n->vals) * 2);
        n->n_vals = 2;
        rc = td_fq_value(q, &n->attr, &n->vals[0]);
        if (rc == TD_OK) {
            rc = td_fq_expect(q, "AND");
        }
        if (rc == TD_OK) {
            rc = td_fq_value(q, &n->attr, &n->vals[1]);
        }
    } else {
        n->vals = td_arena_alloc(q->a, sizeof(*n->vals));
        n->n_vals = 1;
        rc = td_fq_value(q, &n->attr, &n->vals[0]);
    }
out:
    *out = n;
    return rc;
}

static int td_fq_or(td_fq_t *q, td_fq_node_t **out);

static int td_fq_unary(td_fq_t *q, td_fq_node_t **out)
{
    const td_fq_tok_t *t = td_fq_peek(q);
    int rc = TD_OK;

    if (++q->depth > TD_FQ_MAX_DEPTH) {
        rc = td_fq_fail(q, t, "query nested too deeply (at most %d levels)", TD_FQ_MAX_DEPTH);
    } else if (td_fq_accept(q, "not")) {
        td_fq_node_t *n = td_fq_node(q, TD_FQ_N_NOT);
        rc = td_fq_unary(q, &n->l);
        *out = n;
    } else if (t->kind == TD_FQ_LPAREN) {
        q->pos++;
        rc = td_fq_or(q, out);
        if (rc == TD_OK && td_fq_peek(q)->kind != TD_FQ_RPAREN) {
            rc = td_fq_fail(q, td_fq_peek(q), "syntax error: expected ')'");
        } else if (rc == TD_OK) {
            q->pos++;
        }
    } else {
        rc = td_fq_pred(q, out);
    }
    q->depth--;
    return rc;
}

static int td_fq_and(td_fq_t *q, td_fq_node_t **out)
{
    int rc = td_fq_unary(q, out);

    while (rc == TD_OK && td_fq_accept(q, "and")) {
        td_fq_node_t *n = td_fq_node(q, TD_FQ_N_AND);
        n->l = *out;
        rc = td_fq_unary(q, &n->r);
        *out = n;
    }
    return rc;
}

static int td_fq_or(td_fq_t *q, td_fq_node_t **out)
{
    int rc = td_fq_and(q, out);

    while (rc == TD_OK && td_fq_accept(q, "or")) {
        td_fq_node_t *n = td_fq_node(q, TD_FQ_N_OR);
        n->l = *out;
        rc = td_fq_and(q, &n->r);
        *out = n;
    }
    return rc;
}

/* ---- compiler: syntax tree -> store filter, negations pushed to the leaves ---- */

typedef struct {
    td_store_vfilter_t **v;
    int n, cap;
} td_fq_list_t;

static void td_fq_list_add(td_fq_t *q, td_fq_list_t *l, td_store_vfilter_t *f)
{
    if (l->n == l->cap) {
        td_store_vfilter_t **nv;
        l->cap = l->cap ? l->cap * 2 : 4;
        nv = td_arena_alloc(q->a, sizeof(*nv) * (size_t)l->cap);
        if (l->n > 0) {
            memcpy(nv, l->v, sizeof(*nv) * (size_t)l->n);
        }
        l->v = nv;
    }
    l->v[l->n++] = f;
}

/* An AND/OR of a and b, flattening nested nodes of the same kind (b may be NULL). */
static td_store_vfilter_t *td_fq_join(td_fq_t *q, int kind, td_store_vfilter_t *a,
                                      td_store_vfilter_t *b)
{
    td_store_vfilter_t *f = td_arena_calloc(q->a, sizeof(*f));
    td_fq_list_t l = { 0 };
    td_store_vfilter_t *parts[2] = { a, b };

    for (int i = 0; i < 2; i++) {
        td_store_vfilter_t *p = parts[i];
        if (p == NULL) {
            continue;
        }
        if (p->kind == kind) {
            for (int k = 0; k < p->n_args; k++) {
                td_fq_list_add(q, &l, (td_store_vfilter_t *)p->args[k]);
            }
        } else {
            td_fq_list_add(q, &l, p);
        }
    }
    f->kind = kind;
    f->args = (const td_store_vfilter_t *const *)l.v;
    f->n_args = l.n;
    return f;
}

static td_store_vfilter_t *td_fq_not(td_fq_t *q, td_store_vfilter_t *a)
{
    td_store_vfilter_t *f = td_arena_calloc(q->a, sizeof(*f));
    td_store_vfilter_t **args = td_arena_alloc(q->a, sizeof(*args));

    args[0] = a;
    f->kind = TD_STORE_VF_NOT;
    f->args = (const td_store_vfilter_t *const *)args;
    f->n_args = 1;
    return f;
}

static td_store_vfilter_t *td_fq_cmp(td_fq_t *q, const td_fq_attr_t *attr, int op,
                                     const td_store_sa_t *v)
{
    td_store_vfilter_t *f = td_arena_calloc(q->a, sizeof(*f));

    f->kind = TD_STORE_VF_CMP;
    f->field = attr->name;
    f->op = op;
    if (v != NULL) {
        f->value = *v;
    } else {
        f->value.type = attr->kind == TD_FQ_A_STATUS ? TD_STORE_SA_INT : attr->type;
    }
    return f;
}

/* "attr is present and not (x)": the negation of x that stays false on records lacking a
 * custom attribute. Columns are always present. */
static td_store_vfilter_t *td_fq_present_not(td_fq_t *q, const td_fq_attr_t *attr,
                                             td_store_vfilter_t *x)
{
    td_store_vfilter_t *f = td_fq_not(q, x);

    if (attr->kind == TD_FQ_A_CUSTOM) {
        f = td_fq_join(q, TD_STORE_VF_AND, td_fq_cmp(q, attr, TD_STORE_VF_IS_NOT_NULL, NULL), f);
    }
    return f;
}

static int td_fq_negate_op(int op)
{
    switch (op) {
    case TD_STORE_VF_EQ:
        return TD_STORE_VF_NE;
    case TD_STORE_VF_NE:
        return TD_STORE_VF_EQ;
    case TD_STORE_VF_LT:
        return TD_STORE_VF_GE;
    case TD_STORE_VF_LE:
        return TD_STORE_VF_GT;
    case TD_STORE_VF_GT:
        return TD_STORE_VF_LE;
    case TD_STORE_VF_GE:
        return TD_STORE_VF_LT;
    case TD_STORE_VF_STARTS_WITH:
        return TD_FQ_P_NOT_STARTS_WITH;
    case TD_FQ_P_NOT_STARTS_WITH:
        return TD_STORE_VF_STARTS_WITH;
    case TD_STORE_VF_IS_NULL:
        return TD_STORE_VF_IS_NOT_NULL;
    case TD_STORE_VF_IS_NOT_NULL:
        return TD_STORE_VF_IS_NULL;
    case TD_FQ_P_IN:
        return TD_FQ_P_NOT_IN;
    case TD_FQ_P_NOT_IN:
        return TD_FQ_P_IN;
    case TD_FQ_P_BETWEEN:
        return TD_FQ_P_NOT_BETWEEN;
    default:
        return TD_FQ_P_BETWEEN;
    }
}

static td_store_vfilter_t *td_fq_compile_pred(td_fq_t *q, const td_fq_node_t *n, int neg)
{
    const td_fq_attr_t *a = &n->attr;
    int op = neg ? td_fq_negate_op(n->op) : n->op;
    int list = a->type == TD_STORE_SA_KEYWORD_LIST;
    td_store_vfilter_t *f = NULL;

    switch (op) {
    case TD_FQ_P_IN:
    case TD_FQ_P_NOT_IN:
        /* IN: any value equal. NOT IN: present and none equal. */
        f = td_fq_join(q, TD_STORE_VF_OR, NULL, NULL);
        for (int i = 0; i < n->n_vals; i++) {
            f = td_fq_join(q, TD_STORE_VF_OR, f, td_fq_cmp(q, a, TD_STORE_VF_EQ, &n->vals[i]));
        }
        if (op == TD_FQ_P_NOT_IN) {
            f = td_fq_present_not(q, a, f);
        }
        break;
    case TD_FQ_P_BETWEEN:
        f = td_fq_join(q, TD_STORE_VF_AND, td_fq_cmp(q, a, TD_STORE_VF_GE, &n->vals[0]),
                       td_fq_cmp(q, a, TD_STORE_VF_LE, &n->vals[1]));
        break;
    case TD_FQ_P_NOT_BETWEEN:
        f = td_fq_join(q, TD_STORE_VF_OR, td_fq_cmp(q, a, TD_STORE_VF_LT, &n->vals[0]),
                       td_fq_cmp(q, a, TD_STORE_VF_GT, &n->vals[1]));
        break;
    case TD_FQ_P_NOT_STARTS_WITH:
        f = td_fq_present_not(q, a, td_fq_cmp(q, a, TD_STORE_VF_STARTS_WITH, &n->vals[0]));
        break;
    case TD_STORE_VF_IS_NULL:
    case TD_STORE_VF_IS_NOT_NULL:
        f = td_fq_cmp(q, a, op, NULL);
        break;
    case TD_STORE_VF_NE:
        /* A keyword list differs from x when it does not contain x; a Text value when it has
         * none of x's words (the store matches Text with EQ only). */
        f = list || a->type == TD_STORE_SA_TEXT
                    ? td_fq_present_not(q, a, td_fq_cmp(q, a, TD_STORE_VF_EQ, &n->vals[0]))
                    : td_fq_cmp(q, a, op, &n->vals[0]);
        break;
    default:
        f = td_fq_cmp(q, a, op, &n->vals[0]);
        break;
    }
    return f;
}

static td_store_vfilter_t *td_fq_compile(td_fq_t *q, const td_fq_node_t *n, int neg)
{
    td_store_vfilter_t *f = NULL;

    switch (n->kind) {
    case TD_FQ_N_AND:
    case TD_FQ_N_OR: {
        int kind = (n->kind == TD_FQ_N_AND) != (neg != 0) ? TD_STORE_VF_AND : TD_STORE_VF_OR;
        f = td_fq_join(q, kind, td_fq_compile(q, n->l, neg), td_fq_compile(q, n->r, neg));
        break;
    }
    case TD_FQ_N_NOT:
        f = td_fq_compile(q, n->l, !neg);
        break;
    default:
        f = td_fq_compile_pred(q, n, neg);
        break;
    }
    return f;
}

/* ORDER BY keys (at most TD_STORE_VSORT_MAX): any attribute but Text and KeywordList ones,
 * each ASC (the default) or DESC. The forms the store has an index for (StartTime either way,
 * CloseTime DESC [, StartTime DESC]: the default order) keep their named order; others become
 * sort keys, where a missing value sorts above every value. */
static int td_fq_order_by(td_fq_t *q, td_fe_query_t *out)
{
    const td_fq_tok_t *tok;
    char keys[2][24];
    int n = 0, rc = TD_OK;

    do {
        td_fq_attr_t attr;
        td_store_vsort_t *k;
        int desc;
        rc = td_fq_name(q, &attr, &tok);
        if (rc != TD_OK) {
            goto out;
        }
        if (attr.type == TD_STORE_SA_TEXT || attr.type == TD_STORE_SA_KEYWORD_LIST) {
            rc = td_fq_fail(q, tok, "cannot sort by search attribute %s of type %s", attr.name,
                            td_fq_type_name(attr.type));
            goto out;
        }
        if (n == TD_STORE_VSORT_MAX) {
            rc = td_fq_fail(q, tok, "too many ORDER BY keys (at most %d)", TD_STORE_VSORT_MAX);
            goto out;
        }
        desc = td_fq_accept(q, "desc");
        if (!desc) {
            td_fq_accept(q, "asc");
        }
        if (n < 2) {
            snprintf(keys[n], sizeof(keys[n]), "%s %s", attr.name, desc ? "DESC" : "ASC");
        }
        k = &out->sort[n++];
        k->field = attr.name;
        k->type = attr.kind == TD_FQ_A_STATUS ? TD_STORE_SA_INT : attr.type;
        k->desc = desc;
    } while (td_fq_peek(q)->kind == TD_FQ_COMMA && (q->pos++, 1));
    out->has_order = 1;
    if (n == 1 && strcmp(keys[0], "StartTime ASC") == 0) {
        out->order = TD_STORE_VORDER_START_TIME_ASC;
    } else if (n == 1 && strcmp(keys[0], "StartTime DESC") == 0) {
        out->order = TD_STORE_VORDER_START_TIME_DESC;
    } else if ((n == 1 || (n == 2 && strcmp(keys[1], "StartTime DESC") == 0)) &&
               strcmp(keys[0], "CloseTime DESC") == 0) {
        out->order = TD_STORE_VORDER_DEFAULT;
    } else {
        out->n_sort = n;
    }
out:
    return rc;
}

int td_fe_query_compile(const char *text, td_fe_query_sa_fn sa_type, const void *sa_arg,
                        td_arena_t *arena, td_fe_query_t *out, const char **err)
{
    td_fq_t q;
    td_fq_node_t *root = NULL;
    int rc;

    memset(&q, 0, sizeof(q));
    memset(out, 0, sizeof(*out));
    q.a = arena;
    q.text = text != NULL ? text : "";
    q.sa_type = sa_type;
    q.sa_arg = sa_arg;
    *err = NULL;
    rc = td_fq_lex(&q);
    if (rc != TD_OK) {
        goto out;
    }
    if (td_fq_peek(&q)->kind != TD_FQ_END && !td_fq_is_kw(td_fq_peek(&q), "order") &&
        !td_fq_is_kw(td_fq_peek(&q), "group")) {
        rc = td_fq_or(&q, &root);
        if (rc != TD_OK) {
            goto out;
        }
    }
    if (td_fq_accept(&q, "group")) {
        const td_fq_tok_t *tok;
        td_fq_attr_t attr;
        rc = td_fq_expect(&q, "BY");
        if (rc == TD_OK) {
            rc = td_fq_name(&q, &attr, &tok);
        }
        if (rc == TD_OK && attr.kind != TD_FQ_A_STATUS) {
            rc = td_fq_fail(&q, tok,
                            "GROUP BY is supported for ExecutionStatus only, not for search "
                            "attribute %s",
                            attr.name);
        }
        if (rc == TD_OK && td_fq_peek(&q)->kind == TD_FQ_COMMA) {
            rc = td_fq_fail(&q, td_fq_peek(&q), "GROUP BY supports a single field only");
        }
        if (rc != TD_OK) {
            goto out;
        }
        out->group_by_status = 1;
    }
    if (td_fq_accept(&q, "order")) {
        rc = td_fq_expect(&q, "BY");
        if (rc == TD_OK) {
            rc = td_fq_order_by(&q, out);
        }
        if (rc != TD_OK) {
            goto out;
        }
    }
    if (td_fq_is_kw(td_fq_peek(&q), "limit")) {
        rc = td_fq_fail(&q, td_fq_peek(&q), "LIMIT is not supported (use the page size)");
        goto out;
    }
    if (td_fq_peek(&q)->kind != TD_FQ_END) {
        rc = td_fq_fail(&q, td_fq_peek(&q), "syntax error: unexpected token");
        goto out;
    }
    out->filter = root != NULL ? td_fq_compile(&q, root, 0) : NULL;
out:
    if (rc != TD_OK) {
        *err = q.err != NULL ? q.err : "invalid query";
        rc = TD_EINVAL;
    }
    return rc;
}

/* ---- value parsers ---- */

static int td_fq_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return TD_EINVAL;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return TD_OK;
}

int td_fe_query_parse_time(const char *s, int64_t *ns)
{
    struct tm tm;
    const char *p = s;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, rc = TD_EINVAL;
    int64_t frac = 0, scale = 1000000000;

    memset(&tm, 0, sizeof(tm));
    if (td_fq_digits(&p, 4, &y) || *p++ != '-' || td_fq_digits(&p, 2, &mo) || *p++ != '-' ||
        td_fq_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ')) {
        goto out;
    }
    p++;
    if (td_fq_digits(&p, 2, &h) || *p++ != ':' || td_fq_digits(&p, 2, &mi) || *p++ != ':' ||
        td_fq_digits(&p, 2, &sec)) {
        goto out;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) {
            goto out;
        }
        while (isdigit((unsigned char)*p)) {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
            p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (td_fq_digits(&p, 2, &oh) || *p++ != ':' || td_fq_digits(&p, 2, &om)) {
            goto out;
        }
    } else {
        goto out;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
        oh > 23 || om > 59) {
        goto out;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ns = ((int64_t)timegm(&tm) - (int64_t)sign * (oh * 3600 + om * 60)) * 1000000000 + frac;
    rc = TD_OK;
out:
    return rc;
}

int td_fe_query_parse_duration(const char *s, int64_t *ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {
        { "ns", 1 },  { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 }, { "ms", 1e6 },
        { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },      { "d", 86400e9 },
    };
    const char *p = s;
    double total = 0;
    int sign = 1, rc = TD_EINVAL, hh, mm, ss;
    int64_t whole;

    if (s == NULL || *s == '\0') {
        goto out;
    }
    if (td_fq_parse_int(s, &whole) == TD_OK) {
        *ns = whole;
        rc = TD_OK;
        goto out;
    }
    if (strlen(s) == 8 && sscanf(s, "%2d:%2d:%2d", &hh, &mm, &ss) == 3 && s[2] == ':' &&
        s[5] == ':' && mm < 60 && ss < 60) {
        *ns = ((int64_t)hh * 3600 + mm * 60 + ss) * 1000000000;
        rc = TD_OK;
        goto out;
    }
    if (*p == '-' || *p == '+') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        rc = TD_OK;
        goto out;
    }
    while (*p != '\0') {
        char *end = NULL;
        double v;
        size_t ulen = 0, best = 0;
        double scale = 0;
        if (!isdigit((unsigned char)*p) && *p != '.') {
            goto out;
        }
        v = strtod(p, &end);
        if (end == p || *end == 'e' || *end == 'E') {
            goto out;
        }
        p = end;
        while (p[ulen] != '\0' && !isdigit((unsigned char)p[ulen]) && p[ulen] != '.') {
            ulen++;
        }
        for (size_t i = 0; i < TD_ARRAY_LEN(units); i++) {
            size_t n = strlen(units[i].unit);
            if (n == ulen && strncmp(p, units[i].unit, n) == 0 && n > best) {
                best = n;
                scale = units[i].ns;
            }
        }
        if (best == 0) {
            goto out;
        }
        total += v * scale;
        p += ulen;
    }
    if (total > 9.2e18) {
        goto out;
    }
    *ns = sign * (int64_t)total;
    rc = TD_OK;
out:
    return rc;
}
