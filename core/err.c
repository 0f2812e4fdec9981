/* err.c -- names and messages of the LN_E* codes, from LN_ERRNO_MAP. */
#include <stdarg.h>
#include <stdio.h>

#include "err.h"

const char *ln_strerror(int code)
{
    switch (code) {
#define LN_ERR_MSG(name, c, msg) case c: return msg;
    LN_ERRNO_MAP(LN_ERR_MSG)
#undef LN_ERR_MSG
    case 0: return "ok";
    }
    return "unknown error";
}

const char *ln_errname(int code)
{
    switch (code) {
#define LN_ERR_NAME(name, c, msg) case c: return #name;
    LN_ERRNO_MAP(LN_ERR_NAME)
#undef LN_ERR_NAME
    case 0: return "OK";
    }
    return "EUNKNOWN";
}

int ln_errf(char *buf, size_t len, int code, const char *fmt, ...)
{
    if (buf && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return code;
}
