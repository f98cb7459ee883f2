/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cron schedules of cron workflows: the standard five fields (minute, hour, day of month,
 * month, day of week; `*`, `?`, lists, ranges, steps, month and weekday names) and the
 * descriptors Temporal accepts (@yearly, @annually, @monthly, @weekly, @daily, @midnight,
 * @hourly, @every <duration>), evaluated in UTC. A CRON_TZ= or TZ= prefix naming anything but
 * UTC is refused (no time-zone database here). Pure functions; callers: the mutable-state code
 * (td_ms_start, run close) and the unit tests.
 */
#include "ms_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "mem.h"

#define MINUTE_NS   (60 * TD_MS_SECOND)
#define MIN_PER_DAY 1440
/* A schedule with no match within this many years never fires (e.g. "0 0 31 2 *"). */
#define SEARCH_YEARS 5

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

typedef struct {
    int lo, hi;
    const char *const *names; /* names[i] is value lo + i */
    int n_names;
} field_t;

static const field_t fields[5] = {
    { 0, 59, NULL, 0 },         { 0, 23, NULL, 0 },     { 1, 31, NULL, 0 },
    { 1, 12, month_names, 12 }, { 0, 6, dow_names, 7 },
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic: 400-year cycles). */
static int64_t days_from_ymd(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void ymd_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* A number or (for months and weekdays) a three-letter name; -1 when neither. */
static int parse_value(const char **p, const field_t *f)
{
    const char *s = *p;
    int v = 0, n = 0;

    while (isdigit((unsigned char)s[n]) && n < 4) {
        v = v * 10 + (s[n] - '0');
        n++;
    }
    if (n > 0 && !isdigit((unsigned char)s[n])) {
        *p = s + n;
        return v;
    }
    for (int i = 0; n == 0 && i < f->n_names; i++) {
        if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
            *p = s + 3;
            return f->lo + i;
        }
    }
    return -1;
}

/* One comma-separated field [s, end) into the bit set *bits; *star when it is `*` or `?`. */
static int parse_field(const char *s, const char *end, const field_t *f, uint64_t *bits, int *star)
{
    *bits = 0;
    *star = 0;
    while (s < end) {
        int lo, hi, step = 1;
        const char *item_end = memchr(s, ',', (size_t)(end - s));
        if (item_end == NULL) {
            item_end = end;
        }
        if (*s == '*' || *s == '?') {
            lo = f->lo;
            hi = f->hi;
            s++;
            if (s == item_end) {
                *star = 1;
            }
        } else {
            lo = hi = parse_value(&s, f);
            if (lo < 0) {
                return TD_EINVAL;
            }
            if (*s == '-') {
                s++;
                hi = parse_value(&s, f);
                if (hi < 0) {
                    return TD_EINVAL;
                }
            } else if (*s == '/') {
                hi = f->hi; /* "a/n" means a through the maximum, every n */
            }
        }
        if (*s == '/') {
            s++;
            step = 0;
            while (s < item_end && isdigit((unsigned char)*s) && step < 1000) {
                step = step * 10 + (*s++ - '0');
            }
            if (step == 0) {
                return TD_EINVAL;
            }
        }
        if (s != item_end || lo < f->lo || hi > f->hi || lo > hi) {
            return TD_EINVAL;
        }
        for (int v = lo; v <= hi; v += step) {
            *bits |= UINT64_C(1) << v;
        }
        s = item_end < end ? item_end + 1 : end;
    }
    return *bits ? TD_OK : TD_EINVAL;
}

/* A Go-style duration ("1h30m", "45s", "1.5h", "500ms"); -1 when malformed. */
static int64_t parse_duration(const char *s)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = { { "ns", 1 },        { "us", 1000 },
                  { "ms", 1000000 },  { "h", 3600 * TD_MS_SECOND },
                  { "m", MINUTE_NS }, { "s", TD_MS_SECOND } };
    int64_t total = 0;

    if (*s == '\0') {
        return -1;
    }
    while (*s) {
        char *e;
        double v = strtod(s, &e);
        size_t i;
        if (e == s || v < 0 || *s == '+' || *s == '-') {
            return -1;
        }
        s = e;
        for (i = 0; i < TD_ARRAY_LEN(units); i++) {
            size_t n = strlen(units[i].unit);
            if (strncmp(s, units[i].unit, n) == 0) {
                s += n;
                break;
            }
        }
        if (i == TD_ARRAY_LEN(units) || v * (double)units[i].ns > 3.0e18) {
            return -1;
        }
        total += (int64_t)(v * (double)units[i].ns);
        if (total > INT64_C(3000000000000000000)) {
            return -1;
        }
    }
    return total;
}

static int parse_descriptor(const char *s, td_ms_cron_t *c)
{
    static const struct {
        const char *name, *spec;
    } d[] = {
        { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
        { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
        { "@hourly", "0 * * * *" },
    };

    if (strncmp(s, "@every ", 7) == 0) {
        int64_t every = parse_duration(s + 7);
        if (every < 0) {
            return TD_EINVAL;
        }
        /* As robfig/cron (Temporal's parser): whole seconds, at least one. */
        every -= every % TD_MS_SECOND;
        c->every = every < TD_MS_SECOND ? TD_MS_SECOND : every;
        return TD_OK;
    }
    for (size_t i = 0; i < TD_ARRAY_LEN(d); i++) {
        if (strcmp(s, d[i].name) == 0) {
            return td_ms_cron_parse(d[i].spec, c);
        }
    }
    return TD_EINVAL;
}

int td_ms_cron_parse(const char *spec, td_ms_cron_t *c)
{
    const char *s = spec ? spec : "";
    const char *start[5], *end[5];
    int n = 0, star;
    uint64_t bits[5];

    memset(c, 0, sizeof(*c));
    while (isspace((unsigned char)*s)) {
        s++;
    }
    if (strncmp(s, "CRON_TZ=", 8) == 0 || strncmp(s, "TZ=", 3) == 0) {
        const char *tz = strchr(s, '=') + 1;
        size_t len = strcspn(tz, " \t");
        if (!((len == 3 && strncmp(tz, "UTC", 3) == 0) ||
              (len == 7 && strncmp(tz, "Etc/UTC", 7) == 0) ||
              (len == 3 && strncmp(tz, "GMT", 3) == 0))) {
            return TD_EUNIMPL; /* no time-zone database: only UTC schedules */
        }
        s = tz + len;
        while (isspace((unsigned char)*s)) {
            s++;
        }
    }
    if (*s == '@') {
        return parse_descriptor(s, c);
    }
    while (*s) {
        if (n == 5) {
            return TD_EINVAL;
        }
        start[n] = s;
        while (*s && !isspace((unsigned char)*s)) {
            s++;
        }
        end[n++] = s;
        while (isspace((unsigned char)*s)) {
            s++;
        }
    }
    if (n != 5) {
        return TD_EINVAL;
    }
    for (int i = 0; i < 5; i++) {
        if (parse_field(start[i], end[i], &fields[i], &bits[i], &star) != TD_OK) {
            return TD_EINVAL;
        }
        if (i == 2) {
            c->dom_star = star;
        } else if (i == 4) {
            c->dow_star = star;
        }
    }
    c->minutes = bits[0];
    c->hours = (uint32_t)bits[1];
    c->doms = (uint32_t)bits[2];
    c->months = (uint16_t)bits[3];
    c->dows = (uint8_t)bits[4];
    /* Reject schedules that can never fire ("0 0 30 2 *"), as Temporal's validation does. */
    if (td_ms_cron_next(c, 0) == 0) {
        return TD_EINVAL;
    }
    return TD_OK;
}

static int day_matches(const td_ms_cron_t *c, int dom, int dow)
{
    int dom_ok = (c->doms >> dom) & 1, dow_ok = (c->dows >> dow) & 1;
    /* Standard cron: when both day fields are restricted, either may match. */
    if (c->dom_star || c->dow_star) {
        return dom_ok && dow_ok;
    }
    return dom_ok || dow_ok;
}

int64_t td_ms_cron_next(const td_ms_cron_t *c, int64_t after)
{
    int64_t min, limit;

    if (c->every > 0) {
        return after - after % TD_MS_SECOND + c->every;
    }
    min = floor_div(after, MINUTE_NS) + 1;
    limit = min + (int64_t)SEARCH_YEARS * 366 * MIN_PER_DAY;
    while (min < limit) {
        int64_t days = floor_div(min, MIN_PER_DAY), y;
        int m, d, h, mi;
        ymd_from_days(days, &y, &m, &d);
        if (!((c->months >> m) & 1)) {
            min = days_from_ymd(y + (m == 12), m % 12 + 1, 1) * MIN_PER_DAY;
            continue;
        }
        if (!day_matches(c, d, (int)(((days + 4) % 7 + 7) % 7))) { /* 1970-01-01: Thursday */
            min = (days + 1) * MIN_PER_DAY;
            continue;
        }
        h = (int)((min - days * MIN_PER_DAY) / 60);
        mi = (int)(min % 60);
        if (!((c->hours >> h) & 1)) {
            min = days * MIN_PER_DAY + (h + 1) * 60;
            continue;
        }
        if (!((c->minutes >> mi) & 1)) {
            min++;
            continue;
        }
        return min * MINUTE_NS;
    }
    return 0;
}

int64_t td_ms_cron_backoff(const char *spec, int64_t scheduled, int64_t now)
{
    td_ms_cron_t c;
    int64_t next, wait;

    if (spec == NULL || spec[0] == '\0' || td_ms_cron_parse(spec, &c) != TD_OK) {
        return -1;
    }
    if (now < scheduled) {
        next = scheduled;
    } else if (c.every > 0) {
        next = td_ms_cron_next(&c, scheduled);
        if (next < now) {
            next += (now - next + c.every - 1) / c.every * c.every;
        }
    } else {
        next = td_ms_cron_next(&c, scheduled);
        while (next != 0 && next < now) {
            next = td_ms_cron_next(&c, next);
        }
    }
    if (next == 0) {
        return -1;
    }
    /* Temporal rounds the wait up to whole seconds. */
    wait = next - now;
    return (wait + TD_MS_SECOND - 1) / TD_MS_SECOND * TD_MS_SECOND;
}
