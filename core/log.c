/* log.c -- the names of log levels (see log.h). */
#include <string.h>

#include "log.h"

static const char *const names[] = { "debug", "info", "warn", "error" };

int ln_log_level_of(const char *name)
{
    for (int i = LN_LOG_DEBUG; i <= LN_LOG_ERROR; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

const char *ln_log_level_name(int level)
{
    return level >= LN_LOG_DEBUG && level <= LN_LOG_ERROR ? names[level] : "?";
}
