/*
** log.h -- the levels of lunet's log lines, shared by the parts that write
** them (the node's log is ln__node_logl in node.c; p2p.c hands its lines
** up with a level).
*/
#ifndef LN_LOG_H
#define LN_LOG_H

enum { LN_LOG_DEBUG = 0, LN_LOG_INFO = 1, LN_LOG_WARN = 2, LN_LOG_ERROR = 3 };

/* "debug", "info", "warn" or "error": the level, else -1. */
int ln_log_level_of(const char *name);
/* The name of a level ("info"); "?" for another number. */
const char *ln_log_level_name(int level);

#endif
