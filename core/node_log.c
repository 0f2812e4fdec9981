/*
** node_log.c -- the node's log (node.h): one line per event on stderr, at
** a level (LN_LOG_*), the single path every line of the node takes; what
** contracts log(...) joins it at debug. And the wall clock the node reads.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contract.h"
#include "log.h"
#include "node.h"
#include "node_int.h"

static int log_level = LN_LOG_INFO;

/* What contracts log(...) (contract.h), at debug. */
static void contract_log(const char *where, const char *text, size_t len, void *ud)
{
    (void)ud;
    ln__node_logl(LN_LOG_DEBUG, "log %s: %.*s", where, (int)len, text);
}

void ln_node_log_level(int level)
{
    if (level < LN_LOG_DEBUG || level > LN_LOG_ERROR) return;
    log_level = level;
    /* No sink above debug: log(...) then builds no text (its gas is the same). */
    ln_contract_log_sink(level == LN_LOG_DEBUG ? contract_log : NULL, NULL);
}

static void vlog(int level, const char *fmt, va_list ap)
{
    if (level < log_level || level > LN_LOG_ERROR) return;
    char buf[1024], *line = buf;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    int head = (int)strftime(buf, sizeof buf, "%H:%M:%S ", &tm);
    head += snprintf(buf + head, sizeof buf - (size_t)head, "%-5s ", ln_log_level_name(level));
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(buf + head, sizeof buf - (size_t)head - 1, fmt, ap);
    if (n < 0) n = 0;
    if ((size_t)(head + n) >= sizeof buf - 1 && (line = malloc((size_t)head + n + 2))) {
        memcpy(line, buf, (size_t)head);
        vsnprintf(line + head, (size_t)n + 1, fmt, again);
    } else if (!line) {
        line = buf;                    /* no memory: the line as cut */
        n = (int)(sizeof buf - 2) - head;
    }
    va_end(again);
    for (int i = head; i < head + n; i++)        /* one event, one line */
        if ((unsigned char)line[i] < 0x20) line[i] = ' ';
    line[head + n] = '\n';
    fwrite(line, 1, (size_t)head + n + 1, stderr);    /* one write: lines stay whole */
    if (line != buf) free(line);
}

void ln__node_logl(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void ln_node_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void ln__node_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LN_LOG_INFO, fmt, ap);
    va_end(ap);
}

double ln__node_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
