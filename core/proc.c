/* proc.c -- child processes and what /proc says about them (see proc.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

double ln_proc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void ln_proc_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

int ln_proc_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* utime + stime of pid in clock ticks; -1 if unreadable. */
long long ln_proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');          /* the command may hold spaces */
    if (!p) return -1;
    unsigned long long ut, st;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
    ** majflt cmajflt utime stime */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* A "Vm...:  N kB" field of /proc/pid/status in KiB; -1 if unreadable. */
long ln_proc_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':') {
            v = strtol(line + fl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

double ln_proc_self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Starts `lunet dev` on home with its output in home/node.log. */
pid_t ln_proc_start_node(const char *home, const char *rpc, const char *p2p, const char *config)
{
    char log[PATH_MAX];
    snprintf(log, sizeof log, "%s/node.log", home);
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);      /* never outlive the bench */
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || nul < 0) _exit(127);
    dup2(nul, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (config)
        execl("/proc/self/exe", "lunet", "dev", "--home", home, "--rpc", rpc, "--p2p", p2p,
              "--config", config, (char *)NULL);
    else
        execl("/proc/self/exe", "lunet", "dev", "--home", home, "--rpc", rpc, "--p2p", p2p,
              (char *)NULL);
    _exit(127);
}

void ln_proc_stop(pid_t pid, int sig, double wait_s)
{
    if (pid <= 0) return;
    kill(pid, sig);
    double end = ln_proc_now() + wait_s;
    while (ln_proc_now() < end) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        ln_proc_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

void ln_proc_rmtree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void ln_proc_log_tail(const char *home)
{
    char path[PATH_MAX], buf[2048];
    snprintf(path, sizeof path, "%s/node.log", home);
    FILE *f = fopen(path, "r");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    fprintf(stderr, "---- tail of %s ----\n%s", path, buf);
}

pid_t ln_proc_start_perf(const char *file, pid_t pid)
{
    char ps[16], log[PATH_MAX];
    snprintf(ps, sizeof ps, "%d", (int)pid);
    snprintf(log, sizeof log, "%s.log", file);
    fflush(NULL);
    pid_t p = fork();
    if (p != 0) return p;
    prctl(PR_SET_PDEATHSIG, SIGINT);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    /* The libraries have no frame pointers: unwind with DWARF. */
    execlp("perf", "perf", "record", "-F", "499", "--call-graph", "dwarf,16384", "-o", file,
           "-p", ps, (char *)NULL);
    _exit(127);
}
