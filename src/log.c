/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log records (see log.h). Text lines look like
 *     2026-11-24T20:31:02.123Z INFO  history  shard 1 acquired
 * JSON lines like
 *     {"ts":"2026-11-24T20:31:02.123Z","level":"info","component":"history","msg":"..."}
 * Records longer than 4 KiB are cut.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

td_log_level_t td_log_min_level = TD_LOG_INFO;
static td_log_format_t td_log_format = TD_LOG_TEXT;

static const char *const td_log_names[] = { "debug", "info", "warn", "error", "never" };

void td_log_setup(td_log_level_t level, td_log_format_t format)
{
    td_log_min_level = level;
    td_log_format = format;
}

int td_log_level_parse(const char *s, td_log_level_t *out)
{
    for (int i = 0; i <= TD_LOG_NEVER; i++) {
        if (strcmp(s, td_log_names[i]) == 0) {
            *out = (td_log_level_t)i;
            return TD_OK;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = TD_LOG_WARN;
        return TD_OK;
    }
    return TD_EINVAL;
}

int td_log_format_parse(const char *s, td_log_format_t *out)
{
    if (strcmp(s, "text") == 0) {
        *out = TD_LOG_TEXT;
    } else if (strcmp(s, "json") == 0) {
        *out = TD_LOG_JSON;
    } else if (strcmp(s, "pretty") == 0) {
        *out = TD_LOG_PRETTY;
    } else {
        return TD_EINVAL;
    }
    return TD_OK;
}

/* Appends s to buf as JSON string content; returns the new length (bounded by cap-1). */
static size_t td_log_json_escape(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s != '\0' && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c == '\n') {
            buf[len++] = '\\';
            buf[len++] = 'n';
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

void td_log_write(td_log_level_t level, const char *component, const char *fmt, ...)
{
    char msg[4096];
    char line[8192];
    char ts[64];
    struct timeval tv;
    struct tm tm;
    size_t len;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));

    if (td_log_format == TD_LOG_JSON) {
        len = (size_t)snprintf(line, sizeof(line),
                               "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"", ts,
                               td_log_names[level]);
        len = td_log_json_escape(line, len, sizeof(line) - 8, component);
        memcpy(line + len, "\",\"msg\":\"", 9);
        len += 9;
        len = td_log_json_escape(line, len, sizeof(line) - 8, msg);
        memcpy(line + len, "\"}\n", 3);
        len += 3;
    } else {
        int n = snprintf(line, sizeof(line), "%s %-5s %-9s %s\n", ts, td_log_names[level],
                         component, msg);
        len = n < 0 ? 0 : (size_t)n;
        if (len >= sizeof(line)) {
            len = sizeof(line) - 1;
            line[len - 1] = '\n';
        }
    }
    if (write(STDERR_FILENO, line, len) < 0) {
        /* Nothing sensible to do when stderr is gone. */
    }
}
