/* metrics.c -- Prometheus text from one table of metrics (see metrics.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

char *ln_metrics_text(const ln_metric *t, size_t n, void *ud)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(t[i].name, t[i - 1].name) != 0)
            fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", t[i].name, t[i].help, t[i].name,
                    t[i].type == LN_METRIC_COUNTER ? "counter" : "gauge");
        double v = t[i].get(ud);
        fprintf(f, "%s%s%s%s ", t[i].name, t[i].labels ? "{" : "", t[i].labels ? t[i].labels : "",
                t[i].labels ? "}" : "");
        if (v == floor(v) && fabs(v) < 9007199254740992.0) fprintf(f, "%.0f\n", v);
        else fprintf(f, "%.6g\n", v);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
