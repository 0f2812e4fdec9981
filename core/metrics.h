/*
** metrics.h -- Prometheus text from one table of metrics: each a name, a
** type, a help line, optional labels and a getter. Entries of one family
** (the same name, different labels) follow each other and share one HELP
** and TYPE line.
*/
#ifndef LN_METRICS_H
#define LN_METRICS_H

#include <stddef.h>

typedef enum { LN_METRIC_COUNTER, LN_METRIC_GAUGE } ln_metric_type;

typedef struct {
    const char *name;                /* "lunet_height" */
    ln_metric_type type;
    const char *help;
    const char *labels;              /* "where=\"block\"", or NULL */
    double (*get)(void *ud);
} ln_metric;

/* The text exposition of the n metrics, each read through get(ud); malloc()ed,
** NULL when out of memory. Integral values print without a fraction. */
char *ln_metrics_text(const ln_metric *table, size_t n, void *ud);

#endif
