/* node_metrics.c -- the node's metrics as one table (metrics.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "node_int.h"


static double m_height(void *ud)
{
    ln_header h;
    return ln_chain_head(((ln_node *)ud)->chain, &h, NULL) == 0 ? (double)h.height : 0;
}
static double m_blocks(void *ud) { return (double)((ln_node *)ud)->blocks; }
static double m_txs(void *ud) { return (double)((ln_node *)ud)->txs_committed; }
static double m_submitted(void *ud) { return (double)((ln_node *)ud)->submitted; }
static double m_refused(void *ud) { return (double)((ln_node *)ud)->refused; }
static double m_mempool(void *ud) { return (double)ln_mempool_count(((ln_node *)ud)->mp); }
static double m_interval(void *ud) { return ((ln_node *)ud)->block_interval; }
static double m_gas(void *ud) { return (double)((ln_node *)ud)->gas_total; }
static double m_cons_gas(void *ud)
{
    ln_node *n = ud;
    return n->plugin ? (double)ln_plugin_gas(n->plugin) : 0;
}
static double m_peers(void *ud)
{
    ln_node *n = ud;
    return n->p2p ? (double)ln_p2p_peers(n->p2p) : 0;
}
static double sig_stat(ln_node *n, int which)
{
    uint64_t at_admission = 0, in_blocks = 0;
    if (n->admit) ln_admit_stats(n->admit, &at_admission, &in_blocks);
    return (double)(which ? in_blocks : at_admission);
}
static double m_sig_admit(void *ud) { return sig_stat(ud, 0); }
static double m_sig_block(void *ud) { return sig_stat(ud, 1); }
static double p2p_stat(ln_node *n, int which)
{
    uint64_t frames = 0, refused = 0;
    if (n->p2p) ln_p2p_stats(n->p2p, &frames, &refused);
    return (double)(which ? refused : frames);
}
static double m_p2p_frames(void *ud) { return p2p_stat(ud, 0); }
static double m_p2p_refused(void *ud) { return p2p_stat(ud, 1); }
static double query_stat(ln_node *n, int which)
{
    size_t run = 0, wait = 0;
    uint64_t ref = 0;
    if (n->queries) ln_qpool_stats(n->queries, &run, &wait, &ref);
    return which == 0 ? (double)run : which == 1 ? (double)wait : (double)ref;
}
static double m_q_running(void *ud) { return query_stat(ud, 0); }
static double m_q_waiting(void *ud) { return query_stat(ud, 1); }
static double m_q_refused(void *ud) { return query_stat(ud, 2); }

static double m_final(void *ud) { return (double)ln_chain_final(((ln_node *)ud)->chain); }
static double m_reorgs(void *ud) { return (double)((ln_node *)ud)->reorgs; }
static double m_reorg_last(void *ud) { return (double)((ln_node *)ud)->reorg_depth_last; }
static double m_reorg_max(void *ud) { return (double)((ln_node *)ud)->reorg_depth_max; }
static double m_reorg_blocks(void *ud) { return (double)((ln_node *)ud)->reorg_blocks; }
static double m_reorg_secs(void *ud) { return ((ln_node *)ud)->reorg_ms_total / 1000; }

static const ln_metric metrics[] = {
    { "lunet_final_height", LN_METRIC_GAUGE, "Height of the last final block.", NULL, m_final },
    { "lunet_reorgs_total", LN_METRIC_COUNTER, "Reorgs: the head moved to another branch.", NULL,
      m_reorgs },
    { "lunet_reorg_depth", LN_METRIC_GAUGE, "Blocks reverted by the last reorg.", NULL,
      m_reorg_last },
    { "lunet_reorg_depth_max", LN_METRIC_GAUGE, "Blocks reverted by the deepest reorg since start.",
      NULL, m_reorg_max },
    { "lunet_reorg_blocks_total", LN_METRIC_COUNTER, "Blocks reverted by reorgs since start.", NULL,
      m_reorg_blocks },
    { "lunet_reorg_seconds_total", LN_METRIC_COUNTER, "Time spent in reorgs since start.", NULL,
      m_reorg_secs },
    { "lunet_height", LN_METRIC_GAUGE, "Height of the head block.", NULL, m_height },
    { "lunet_blocks_total", LN_METRIC_COUNTER, "Blocks committed since start.", NULL, m_blocks },
    { "lunet_txs_committed_total", LN_METRIC_COUNTER, "Transactions committed since start.", NULL,
      m_txs },
    { "lunet_txs_submitted_total", LN_METRIC_COUNTER, "Transactions admitted to the mempool.", NULL,
      m_submitted },
    { "lunet_txs_refused_total", LN_METRIC_COUNTER, "Transactions refused at admission.", NULL,
      m_refused },
    { "lunet_mempool_size", LN_METRIC_GAUGE, "Transactions waiting.", NULL, m_mempool },
    { "lunet_block_interval_seconds", LN_METRIC_GAUGE, "Time between the last two blocks.", NULL,
      m_interval },
    { "lunet_gas_used_total", LN_METRIC_COUNTER, "Gas used by committed transactions since start.",
      NULL, m_gas },
    { "lunet_consensus_gas_total", LN_METRIC_COUNTER, "Instructions the consensus plugin in force "
      "used in its callbacks since it was loaded (a swap starts it over).", NULL, m_cons_gas },
    { "lunet_peers", LN_METRIC_GAUGE, "P2P peers connected (authenticated).", NULL, m_peers },
    { "lunet_tx_sig_checks_total", LN_METRIC_COUNTER, "Transactions whose signatures were checked, "
      "by where: at admission (worker pool) or in a peer's block (not admitted here first).",
      "where=\"admission\"", m_sig_admit },
    { "lunet_tx_sig_checks_total", LN_METRIC_COUNTER, "", "where=\"block\"", m_sig_block },
    { "lunet_p2p_frames_total", LN_METRIC_COUNTER, "P2P frames received from peers and handled.",
      NULL, m_p2p_frames },
    { "lunet_p2p_refused_total", LN_METRIC_COUNTER,
      "Peers dropped for a frame, message or block out of protocol or proportion.", NULL,
      m_p2p_refused },
    { "lunet_queries_running", LN_METRIC_GAUGE, "Queries running on the query workers.", NULL,
      m_q_running },
    { "lunet_queries_waiting", LN_METRIC_GAUGE, "Queries waiting for a query worker.", NULL,
      m_q_waiting },
    { "lunet_queries_refused_total", LN_METRIC_COUNTER,
      "Queries refused with EBUSY: the queue was full.", NULL, m_q_refused },
};

char *ln_node_metrics(ln_node *n)
{
    return ln_metrics_text(metrics, sizeof metrics / sizeof *metrics, n);
}
