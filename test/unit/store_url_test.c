/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store front's pure parts: db_url parsing (every accepted form and the errors) and
 * the page-token encoding shared by the backends.
 */
#include "test.h"

#include "error.h"
#include "store/store_backend.h"

TD_TEST(store_url_sqlite_forms)
{
    td_store_url_t u;
    char err[256];

    TD_CHECK_INT(td_store__url_parse("sqlite:///var/lib/td.db", &u, err, sizeof(err)), ==, TD_OK);
    TD_CHECK_STR(u.scheme, "sqlite");
    TD_CHECK_STR(u.path, "/var/lib/td.db");
    TD_CHECK_INT(u.memory, ==, 0);
    td_store__url_free(&u);
    TD_CHECK_INT(td_store__url_parse("sqlite://data/td.db", &u, err, sizeof(err)), ==, TD_OK);
    TD_CHECK_STR(u.path, "data/td.db");
    td_store__url_free(&u);
    TD_CHECK_INT(td_store__url_parse("sqlite://:memory:", &u, err, sizeof(err)), ==, TD_OK);
    TD_CHECK_INT(u.memory, ==, 1);
    TD_CHECK(u.path == NULL);
    td_store__url_free(&u);
}

TD_TEST(store_url_postgres_forms)
{
    td_store_url_t u;
    char err[256];

    TD_CHECK_INT(td_store__url_parse("postgres://user:p%40ss:w@db.local:6543/temporal?sslmode=off",
                                     &u, err, sizeof(err)),
                 ==, TD_OK);
    TD_CHECK_STR(u.scheme, "postgres");
    TD_CHECK_STR(u.user, "user");
    TD_CHECK_STR(u.password, "p%40ss:w");
    TD_CHECK_STR(u.host, "db.local");
    TD_CHECK_INT(u.port, ==, 6543);
    TD_CHECK_STR(u.dbname, "temporal");
    TD_CHECK_STR(u.query, "sslmode=off");
    td_store__url_free(&u);
    TD_CHECK_INT(td_store__url_parse("postgresql://h/db", &u, err, sizeof(err)), ==, TD_OK);
    TD_CHECK_STR(u.scheme, "postgres");
    TD_CHECK(u.user == NULL);
    TD_CHECK_STR(u.host, "h");
    TD_CHECK_INT(u.port, ==, 0);
    TD_CHECK_STR(u.dbname, "db");
    td_store__url_free(&u);
}

TD_TEST(store_url_errors)
{
    td_store_url_t u;
    char err[256];
    static const struct {
        const char *url, *want;
    } bad[] = {
        { "", "expected SCHEME://" },
        { "just-a-path.db", "expected SCHEME://" },
        { "sqlite://", "missing file path" },
        { "mysql://u@h/db", "unknown scheme 'mysql'" },
        { "postgres://u@h", "expected /DBNAME" },
        { "postgres://u@h:99999/db", "bad port" },
        { "postgres://u@h:12x/db", "bad port" },
        { "postgres://u@h:5432/", "empty database name" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        TD_CHECK_INT(td_store__url_parse(bad[i].url, &u, err, sizeof(err)), ==, TD_EINVAL);
        TD_CHECK_CONTAINS(err, bad[i].want);
    }
}

TD_TEST(store_page_tokens)
{
    td_store_req_t req;
    int64_t keys[3] = { -5, INT64_MAX, 42 }, back[3] = { 0, 0, 0 };
    const char *s = NULL;
    int present = -1;
    td_store_token_t t, empty = { NULL, 0 }, bad;

    td_store_req_init(&req, TD_STORE_OP_NONE);
    t = td_store__token_make(&req, keys, 3);
    TD_CHECK_INT(td_store__token_read(&t, back, 3, &present), ==, TD_OK);
    TD_CHECK_INT(present, ==, 1);
    TD_CHECK_INT(back[0], ==, -5);
    TD_CHECK_INT(back[1], ==, INT64_MAX);
    TD_CHECK_INT(back[2], ==, 42);
    /* wrong key count, truncated, garbage */
    TD_CHECK_INT(td_store__token_read(&t, back, 2, &present), ==, TD_EINVAL);
    bad = t;
    bad.len--;
    TD_CHECK_INT(td_store__token_read(&bad, back, 3, &present), ==, TD_EINVAL);
    bad.data = (const uint8_t *)"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
    bad.len = t.len;
    TD_CHECK_INT(td_store__token_read(&bad, back, 3, &present), ==, TD_EINVAL);
    TD_CHECK_INT(td_store__token_read(&empty, back, 3, &present), ==, TD_OK);
    TD_CHECK_INT(present, ==, 0);
    /* with a string tail */
    t = td_store__token_make_str(&req, keys, 2, "run-7");
    TD_CHECK_INT(td_store__token_read_str(&req, &t, back, 2, &s, &present), ==, TD_OK);
    TD_CHECK_STR(s, "run-7");
    TD_CHECK_INT(back[1], ==, INT64_MAX);
    td_store_req_destroy(&req);
}

TD_TEST(store_op_names)
{
    TD_CHECK_STR(td_store_op_name(TD_STORE_OP_WRITE), "WRITE");
    TD_CHECK_STR(td_store_op_name(TD_STORE_OP_VIS_COUNT), "VIS_COUNT");
    TD_CHECK_STR(td_store_op_name(-3), "UNKNOWN");
    TD_CHECK_INT(td_store_op_is_read(TD_STORE_OP_EXEC_GET), ==, 1);
    TD_CHECK_INT(td_store_op_is_read(TD_STORE_OP_WRITE), ==, 0);
    TD_CHECK_INT(td_store_op_is_read(TD_STORE_OP_SHARD_ACQUIRE), ==, 0);
    for (int op = 1; op < TD_STORE_OP__COUNT; op++) {
        TD_CHECK(strcmp(td_store_op_name(op), "UNKNOWN") != 0);
    }
}
