/* err.c -- names and messages of the LN_E* codes, from LN_ERRNO_MAP. */
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
