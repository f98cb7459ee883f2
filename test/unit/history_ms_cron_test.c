/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cron schedules (ms_cron.c): parsing, the next matching time across month, leap-year and
 * day-of-week edges, descriptors and @every, and Temporal's backoff rule (the cases of its own
 * table, converted to UTC). Times are built with a calendar loop independent of the code under
 * test.
 */
#include "test.h"

#include "error.h"
#include "roles/history/ms/ms.h"

#define MIN  (60 * TD_MS_SECOND)
#define HOUR (60 * MIN)

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* UTC y-m-d h:mi:s as ns since the epoch (years >= 1970), by counting days. */
static int64_t utc(int y, int m, int d, int h, int mi, int s)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int64_t days = 0;
    for (int yy = 1970; yy < y; yy++) {
        days += leap(yy) ? 366 : 365;
    }
    for (int mm = 1; mm < m; mm++) {
        days += mdays[mm - 1] + (mm == 2 && leap(y));
    }
    days += d - 1;
    return ((days * 24 + h) * 60 + mi) * MIN + (int64_t)s * TD_MS_SECOND;
}

static int64_t next_of(const char *spec, int64_t after)
{
    td_ms_cron_t c;
    TD_CHECK_INT(td_ms_cron_parse(spec, &c), ==, TD_OK);
    return td_ms_cron_next(&c, after);
}

TD_TEST(history_ms_cron_calendar_helper)
{
    /* The test's own clock against known epoch values. */
    TD_CHECK_INT(utc(1970, 1, 1, 0, 0, 0), ==, 0);
    TD_CHECK_INT(utc(2023, 11, 14, 22, 13, 20), ==, INT64_C(1700000000) * TD_MS_SECOND);
    TD_CHECK_INT(utc(2000, 3, 1, 0, 0, 0), ==, INT64_C(951868800) * TD_MS_SECOND);
}

TD_TEST(history_ms_cron_next_times)
{
    /* every minute: the next whole minute, strictly after */
    TD_CHECK_INT(next_of("* * * * *", utc(2026, 11, 24, 8, 8, 18)), ==, utc(2026, 11, 24, 8, 9, 0));
    TD_CHECK_INT(next_of("* * * * *", utc(2026, 11, 24, 8, 8, 0)), ==, utc(2026, 11, 24, 8, 9, 0));
    /* steps and ranges */
    TD_CHECK_INT(next_of("*/15 * * * *", utc(2026, 11, 24, 8, 45, 0)), ==,
                 utc(2026, 11, 24, 9, 0, 0));
    TD_CHECK_INT(next_of("1-10/3 * * * *", utc(2026, 11, 24, 8, 4, 0)), ==,
                 utc(2026, 11, 24, 8, 7, 0));
    TD_CHECK_INT(next_of("1-10/3 * * * *", utc(2026, 11, 24, 8, 10, 0)), ==,
                 utc(2026, 11, 24, 9, 1, 0));
    TD_CHECK_INT(next_of("5/20 * * * *", utc(2026, 11, 24, 8, 46, 0)), ==,
                 utc(2026, 11, 24, 9, 5, 0));
    TD_CHECK_INT(next_of("0 9,17 * * *", utc(2026, 11, 24, 9, 0, 0)), ==,
                 utc(2026, 11, 24, 17, 0, 0));
    /* year end and the last day of the year */
    TD_CHECK_INT(next_of("59 23 31 12 *", utc(2026, 12, 31, 23, 59, 0)), ==,
                 utc(2027, 12, 31, 23, 59, 0));
    TD_CHECK_INT(next_of("0 0 * * *", utc(2026, 12, 31, 23, 59, 30)), ==, utc(2027, 1, 1, 0, 0, 0));
    /* 31st: months without one are skipped */
    TD_CHECK_INT(next_of("0 12 31 * *", utc(2026, 1, 31, 12, 0, 0)), ==,
                 utc(2026, 3, 31, 12, 0, 0));
    /* Feb 29: the next leap year (2028) */
    TD_CHECK_INT(next_of("0 0 29 2 *", utc(2025, 3, 1, 0, 0, 0)), ==, utc(2028, 2, 29, 0, 0, 0));
    /* month names */
    TD_CHECK_INT(next_of("30 4 1 jan,JUL *", utc(2026, 1, 1, 4, 30, 0)), ==,
                 utc(2026, 7, 1, 4, 30, 0));
    /* weekday names and ranges: 2026-11-28 is a Saturday */
    TD_CHECK_INT(next_of("0 9 * * mon-fri", utc(2026, 11, 28, 10, 0, 0)), ==,
                 utc(2026, 11, 30, 9, 0, 0));
    TD_CHECK_INT(next_of("0 9 * * 0", utc(2026, 11, 28, 10, 0, 0)), ==, utc(2026, 11, 29, 9, 0, 0));
    TD_CHECK_INT(next_of("0 9 * * 6", utc(2026, 11, 28, 8, 0, 0)), ==, utc(2026, 11, 28, 9, 0, 0));
    /* both day fields restricted: either matches (the 13th or a Friday); 2026-11-24 Tuesday */
    TD_CHECK_INT(next_of("0 12 13 * 5", utc(2026, 11, 24, 0, 0, 0)), ==,
                 utc(2026, 11, 27, 12, 0, 0));
    TD_CHECK_INT(next_of("0 12 13 * 5", utc(2026, 12, 12, 12, 0, 0)), ==,
                 utc(2026, 12, 13, 12, 0, 0));
    /* only one day field restricted: that one decides */
    TD_CHECK_INT(next_of("0 12 13 * *", utc(2026, 11, 24, 0, 0, 0)), ==,
                 utc(2026, 12, 13, 12, 0, 0));
    TD_CHECK_INT(next_of("0 12 ? * 5", utc(2026, 11, 27, 12, 0, 0)), ==,
                 utc(2026, 12, 4, 12, 0, 0));
    /* descriptors */
    TD_CHECK_INT(next_of("@monthly", utc(2026, 1, 31, 12, 0, 0)), ==, utc(2026, 2, 1, 0, 0, 0));
    TD_CHECK_INT(next_of("@weekly", utc(2026, 11, 25, 0, 0, 0)), ==, utc(2026, 11, 29, 0, 0, 0));
    TD_CHECK_INT(next_of("@yearly", utc(2026, 1, 1, 0, 0, 0)), ==, utc(2027, 1, 1, 0, 0, 0));
    TD_CHECK_INT(next_of("@annually", utc(2026, 6, 1, 0, 0, 0)), ==, utc(2027, 1, 1, 0, 0, 0));
    TD_CHECK_INT(next_of("@daily", utc(2026, 2, 28, 7, 0, 0)), ==, utc(2026, 3, 1, 0, 0, 0));
    TD_CHECK_INT(next_of("@midnight", utc(2028, 2, 28, 7, 0, 0)), ==, utc(2028, 2, 29, 0, 0, 0));
    TD_CHECK_INT(next_of("@hourly", utc(2026, 2, 28, 23, 0, 0)), ==, utc(2026, 3, 1, 0, 0, 0));
    /* @every: from the whole second, sub-second intervals round up to 1 s */
    TD_CHECK_INT(next_of("@every 1h30m", utc(2026, 1, 1, 0, 0, 0) + 500), ==,
                 utc(2026, 1, 1, 1, 30, 0));
    TD_CHECK_INT(next_of("@every 1.5s", utc(2026, 1, 1, 0, 0, 0)), ==, utc(2026, 1, 1, 0, 0, 1));
    TD_CHECK_INT(next_of("@every 100ms", utc(2026, 1, 1, 0, 0, 0)), ==, utc(2026, 1, 1, 0, 0, 1));
    /* UTC time-zone prefixes are accepted */
    TD_CHECK_INT(next_of("CRON_TZ=UTC 0 10 * * *", utc(2026, 1, 1, 0, 0, 0)), ==,
                 utc(2026, 1, 1, 10, 0, 0));
    TD_CHECK_INT(next_of("TZ=Etc/UTC @hourly", utc(2026, 1, 1, 0, 0, 0)), ==,
                 utc(2026, 1, 1, 1, 0, 0));
}

TD_TEST(history_ms_cron_parse_errors)
{
    static const char *const invalid[] = {
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 13 *",
        "* * * * 7",
        "*/0 * * * *",
        "5-1 * * * *",
        "a * * * *",
        "1,,2 * * * *",
        "@every",
        "@every 5",
        "@every -5s",
        "@every 5x",
        "@foo",
        "0 0 31 2 *",
        "0 0 30 2 *",
        "1- * * * *",
        "* * * foo *",
    };
    td_ms_cron_t c;

    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (td_ms_cron_parse(invalid[i], &c) != TD_EINVAL) {
            td_test_fail(__FILE__, __LINE__, "\"%s\" was accepted", invalid[i]);
        }
    }
    TD_CHECK_INT(td_ms_cron_parse("CRON_TZ=America/New_York 5 16 * * *", &c), ==, TD_EUNIMPL);
    TD_CHECK_INT(td_ms_cron_parse("  0  10 * *   *  ", &c), ==, TD_OK);
    TD_CHECK_INT(td_ms_cron_parse("0 0 29 2 *", &c), ==, TD_OK);
}

TD_TEST(history_ms_cron_backoff_temporal_table)
{
    int64_t t;

    /* scheduled == now unless a second time is given */
    t = utc(2018, 12, 17, 16, 0, 0);
    TD_CHECK_INT(td_ms_cron_backoff("0 10 * * *", t, t), ==, 18 * HOUR);
    t = utc(2018, 12, 18, 10, 0, 0);
    TD_CHECK_INT(td_ms_cron_backoff("0 10 * * *", t, t), ==, 24 * HOUR);
    t = utc(2018, 12, 17, 8, 8, 0);
    TD_CHECK_INT(td_ms_cron_backoff("0 * * * *", t, t), ==, 52 * MIN);
    t = utc(2018, 12, 17, 9, 0, 0);
    TD_CHECK_INT(td_ms_cron_backoff("0 * * * *", t, t), ==, HOUR);
    t = utc(2018, 12, 17, 8, 8, 18);
    TD_CHECK_INT(td_ms_cron_backoff("* * * * *", t, t), ==, 42 * TD_MS_SECOND);
    TD_CHECK_INT(td_ms_cron_backoff("0 10 * * *", utc(2018, 12, 17, 8, 0, 0),
                                    utc(2018, 12, 20, 0, 0, 0)),
                 ==, 10 * HOUR);
    TD_CHECK_INT(td_ms_cron_backoff("0 10 * * *", utc(2018, 12, 17, 8, 0, 0),
                                    utc(2018, 12, 17, 9, 0, 0)),
                 ==, HOUR);
    TD_CHECK_INT(td_ms_cron_backoff("*/10 * * * *", utc(2018, 12, 17, 0, 4, 0),
                                    utc(2018, 12, 17, 1, 2, 0)),
                 ==, 8 * MIN);
    TD_CHECK_INT(
            td_ms_cron_backoff("@every 5h", utc(2018, 12, 17, 8, 0, 0), utc(2018, 12, 17, 9, 0, 0)),
            ==, 4 * HOUR);
    TD_CHECK_INT(
            td_ms_cron_backoff("@every 5h", utc(2018, 12, 17, 8, 0, 0), utc(2018, 12, 18, 0, 0, 0)),
            ==, 4 * HOUR);
    t = utc(2018, 12, 17, 16, 0, 0);
    TD_CHECK_INT(td_ms_cron_backoff("0 3 * * 0-6", t, t), ==, 11 * HOUR);
    t = utc(2020, 7, 17, 10, 0, 2);
    TD_CHECK_INT(td_ms_cron_backoff("@every 30s", t, t), ==, 30 * TD_MS_SECOND);
    TD_CHECK_INT(td_ms_cron_backoff("@every 30s", t, utc(2020, 9, 17, 4, 0, 53)), ==,
                 9 * TD_MS_SECOND);
    /* now before the scheduled time: wait for the scheduled time itself */
    TD_CHECK_INT(td_ms_cron_backoff("@every 30m", utc(2020, 7, 17, 10, 0, 0),
                                    utc(2020, 7, 17, 9, 45, 0)),
                 ==, 15 * MIN);
    /* rounded up to whole seconds */
    t = utc(2018, 12, 17, 8, 8, 18) + 1;
    TD_CHECK_INT(td_ms_cron_backoff("* * * * *", t, t), ==, 42 * TD_MS_SECOND);
    /* no schedule, invalid or never firing: -1 */
    TD_CHECK_INT(td_ms_cron_backoff("", t, t), ==, -1);
    TD_CHECK_INT(td_ms_cron_backoff("invalid-cron-spec", t, t), ==, -1);
    TD_CHECK_INT(td_ms_cron_backoff("0 0 31 2 *", t, t), ==, -1);
}
