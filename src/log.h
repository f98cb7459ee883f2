/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leveled logging to stderr, one line per record, as text or JSON, each line naming the
 * component (role or module) that wrote it. Safe to call from any thread: a record is
 * formatted into a local buffer and written with one write(2).
 *
 * A source file names its component before including this header:
 *     #define TD_LOG_COMPONENT "history"
 * and then logs with td_log_info("shard %d acquired", id).
 */
#ifndef TD_LOG_H
#define TD_LOG_H

typedef enum {
    TD_LOG_DEBUG = 0,
    TD_LOG_INFO = 1,
    TD_LOG_WARN = 2,
    TD_LOG_ERROR = 3,
    TD_LOG_NEVER = 4,
} td_log_level_t;

typedef enum {
    TD_LOG_TEXT = 0,
    TD_LOG_JSON = 1,
    TD_LOG_PRETTY = 2,
} td_log_format_t;

extern td_log_level_t td_log_min_level;

void td_log_setup(td_log_level_t level, td_log_format_t format);
/* Parses "debug|info|warn|error|never"; returns TD_OK or TD_EINVAL. */
int td_log_level_parse(const char *s, td_log_level_t *out);
/* Parses "text|json|pretty"; returns TD_OK or TD_EINVAL. */
int td_log_format_parse(const char *s, td_log_format_t *out);
void td_log_write(td_log_level_t level, const char *component, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#ifndef TD_LOG_COMPONENT
#define TD_LOG_COMPONENT "main"
#endif

#define td_log_(lvl, ...)                                       \
    do {                                                        \
        if ((lvl) >= td_log_min_level) {                        \
            td_log_write((lvl), TD_LOG_COMPONENT, __VA_ARGS__); \
        }                                                       \
    } while (0)
#define td_log_debug(...) td_log_(TD_LOG_DEBUG, __VA_ARGS__)
#define td_log_info(...)  td_log_(TD_LOG_INFO, __VA_ARGS__)
#define td_log_warn(...)  td_log_(TD_LOG_WARN, __VA_ARGS__)
#define td_log_error(...) td_log_(TD_LOG_ERROR, __VA_ARGS__)

#endif
