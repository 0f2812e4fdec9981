/*
** proc.h -- child processes and what /proc says about them: what `lunet
** bench` needs to run a node of its own and measure it.
** Nothing here prints, except ln_proc_log_tail.
*/
#ifndef LN_PROC_H
#define LN_PROC_H

#include <sys/types.h>

/* Monotonic seconds; a sleep of ms milliseconds (through signals). */
double ln_proc_now(void);
void   ln_proc_sleep_ms(int ms);

/* A TCP port nobody listens on now on 127.0.0.1 (the kernel's choice), or -1. */
int  ln_proc_free_port(void);

/* Starts `lunet dev --home home --rpc rpc --p2p p2p [--config config]` (this
** binary; config may be NULL) with its output in home/node.log; the child
** dies with this process. The pid, or -1 (errno set). */
pid_t ln_proc_start_node(const char *home, const char *rpc, const char *p2p, const char *config);

/* `perf record` of pid into file (output in file.log); the pid of perf. */
pid_t ln_proc_start_perf(const char *file, pid_t pid);

/* Sends sig, waits up to wait_s for the exit, then SIGKILL. pid <= 0: no-op. */
void ln_proc_stop(pid_t pid, int sig, double wait_s);

/* utime + stime of pid in clock ticks; -1 if unreadable. */
long long ln_proc_cpu_ticks(pid_t pid);

/* A "Vm...:  N kB" field of /proc/pid/status in KiB ("VmHWM"); -1 if unreadable. */
long ln_proc_status_kb(pid_t pid, const char *field);

/* User + system CPU seconds of this process. */
double ln_proc_self_cpu(void);

/* Prints the last 2 KiB of home/node.log to stderr. */
void ln_proc_log_tail(const char *home);

/* Removes dir and everything under it (not following links). */
void ln_proc_rmtree(const char *dir);

#endif
