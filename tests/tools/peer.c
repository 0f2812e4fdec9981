/*
** peer.c -- lunet-peer: one real P2P peer, driven line by line from stdin,
** for fault tests (see usage below).
**
** A reader thread hands stdin's lines to the loop through a uv_async, so
** stdin may be a pipe, a file or a terminal. Commands run in order; sleep,
** wait-down and the final flush hold the queue until they are done. After
** the remote drops us the net is closed, so it never redials.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "crypto.h"
#include "err.h"
#include "net.h"

#define DEFAULT_MAX_FRAME (64u << 20)
#define DEFAULT_TIMEOUT_MS 5000
#define FLUSH_POLL_MS 5

static const char usage[] =
    "usage: lunet-peer --key FILE --chain CHAIN_ID --connect HOST:PORT\n"
    "                  [--max-frame N] [--timeout-ms N]\n"
    "Dials HOST:PORT as the identity in FILE (a key file as `lunet` writes it)\n"
    "and prints `up` once the handshake is done. Then runs stdin's commands in\n"
    "order, one per line:\n"
    "  send HEX      one frame with these bytes\n"
    "  garbage N     one frame of N random bytes\n"
    "  big N         one frame of N zero bytes (N up to --max-frame, default 64 MiB)\n"
    "  file PATH     one frame with the bytes of the file at PATH\n"
    "  repeat N HEX  the frame HEX, N times over (a flood)\n"
    "  quiet         from now on count the frames received instead of printing them\n"
    "  count         prints `count FRAMES BYTES`: frames received while quiet\n"
    "  sleep MS      wait MS milliseconds\n"
    "  wait-down MS  wait up to MS for the remote to drop us: prints\n"
    "                `down <reason>` or `still-up`\n"
    "  quit          flush, close, exit 0 (as does the end of stdin)\n"
    "Every frame the remote sends is printed as `recv HEX`. If the handshake\n"
    "is not done in --timeout-ms (default 5000), prints `refused <reason>` and\n"
    "exits 3. A frame for a peer that is down is skipped with a note on stderr.\n"
    "Exit: 0 done, 1 error, 2 usage, 3 refused.\n";

typedef struct line {
    struct line *next;
    char *text;                  /* NULL: the end of stdin */
} line;

/* Everything the loop owns; the reader thread touches only mu, head/tail
** and async_closed. */
static struct {
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t timeout, wait;    /* the handshake deadline; sleep, wait-down, flush */
    uv_mutex_t mu;
    line *head, *tail;           /* lines from the thread, not yet run */
    int async_closed;
    ln_net *net;
    ln_peer *peer;               /* while up */
    int was_up, down, down_why, saw_hello, net_closed;
    int blocked;                 /* B_NONE, or what holds the queue */
    int finishing, code;
    int quiet;                   /* count frames instead of printing them */
    uint8_t *rep;                /* a repeat under way: the frame, how many are left */
    size_t rep_len;
    unsigned long long rep_left;
    unsigned long long rx_frames, rx_bytes;
    uint64_t timeout_ms;
    size_t max_frame;
    unsigned long lineno;
} T;

enum { B_NONE, B_SLEEP, B_WAIT_DOWN, B_REPEAT };

#define REPEAT_PER_TURN 64       /* frames of a repeat sent per loop turn */

static void pump(void);
static void finish(int code);

static void die(const char *fmt, const char *arg)
{
    fputs("lunet-peer: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

/* ---- stdin, on its own thread -------------------------------------------- */

static void push(char *text)
{
    line *l = malloc(sizeof *l);
    if (!l) die("%s", "out of memory");
    l->text = text;
    l->next = NULL;
    uv_mutex_lock(&T.mu);
    if (T.tail) T.tail->next = l; else T.head = l;
    T.tail = l;
    if (!T.async_closed) uv_async_send(&T.async);
    uv_mutex_unlock(&T.mu);
}

static void reader(void *arg)
{
    (void)arg;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&buf, &cap, stdin)) >= 0) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
        char *copy = strdup(buf);
        if (!copy) die("%s", "out of memory");
        push(copy);
    }
    free(buf);
    push(NULL);
}

/* ---- output -------------------------------------------------------------- */

static void print_hex_line(const char *tag, const uint8_t *p, size_t n)
{
    char *hex = malloc(2 * n + 1);
    if (!hex) die("%s", "out of memory");
    ln_hex(p, n, hex);
    printf("%s %s\n", tag, hex);
    free(hex);
}

static const char *down_reason(void)
{
    return T.down_why ? ln_strerror(T.down_why) : "closed by the remote";
}

/* ---- the net --------------------------------------------------------------- */

static int on_allow(void *ud, const uint8_t pk[LN_PK_LEN])
{
    (void)ud; (void)pk;
    T.saw_hello = 1;                     /* the remote's hello passed version and chain */
    return 1;
}

static void on_net_closed(ln_net *net, void *ud)
{
    (void)net; (void)ud;
    T.net = NULL;
    T.net_closed = 1;
}

static void close_net(void)
{
    if (T.net && !T.net_closed) {
        ln_net *net = T.net;
        T.net_closed = 1;                /* ln_net_close may call back at once */
        ln_net_close(net, on_net_closed, NULL);
    }
}

static void on_peer(void *ud, ln_peer *p, int up)
{
    (void)ud;
    if (up) {
        if (T.was_up) { ln_peer_drop(p, 0); return; }   /* one session per run */
        T.was_up = 1;
        T.peer = p;
        uv_timer_stop(&T.timeout);
        printf("up\n");
        pump();
        return;
    }
    if (p != T.peer) return;
    T.peer = NULL;
    T.down = 1;
    T.down_why = ln_peer_why(p);
    close_net();                         /* no redial: the test watches this session */
    if (T.blocked == B_WAIT_DOWN) {
        uv_timer_stop(&T.wait);
        printf("down %s\n", down_reason());
        T.blocked = B_NONE;
    }
    pump();
}

static void on_frame(void *ud, ln_peer *p, const uint8_t *msg, size_t len)
{
    (void)ud; (void)p;
    if (T.quiet) {
        T.rx_frames++;
        T.rx_bytes += len;
        return;
    }
    print_hex_line("recv", msg, len);
}

static void on_timeout(uv_timer_t *t)
{
    (void)t;
    if (T.was_up) return;
    char why[96];
    if (T.saw_hello)
        snprintf(why, sizeof why, "closed by the remote during the handshake");
    else
        snprintf(why, sizeof why, "no handshake in %llu ms", (unsigned long long)T.timeout_ms);
    printf("refused %s\n", why);
    finish(3);
}

/* ---- commands -------------------------------------------------------------- */

static void on_wait(uv_timer_t *t)
{
    (void)t;
    if (T.blocked == B_WAIT_DOWN) printf("still-up\n");
    T.blocked = B_NONE;
    pump();
}

/* One frame for the peer; a peer that is down is not an error of the tool. */
static void send_frame(const char *what, const uint8_t *p, size_t n)
{
    if (!T.peer) {
        fprintf(stderr, "lunet-peer: %s: skipped, the peer is down\n", what);
        return;
    }
    int rc = ln_peer_send(T.peer, p, n);
    if (rc == LN_ETOOBIG) {
        fprintf(stderr, "lunet-peer: line %lu: %s: %zu bytes is more than --max-frame\n",
                T.lineno, what, n);
        finish(1);
    } else if (rc < 0) {                 /* dropped as we sent: the down follows */
        fprintf(stderr, "lunet-peer: %s: %s\n", what, ln_strerror(rc));
    }
}

/* A repeat sends a few frames per loop turn, so what the remote answers
** is read meanwhile (a flood that reads as fast as it is answered). */
static void on_repeat(uv_timer_t *t)
{
    for (int i = 0; i < REPEAT_PER_TURN && T.rep_left > 0 && T.peer; i++, T.rep_left--)
        send_frame("repeat", T.rep, T.rep_len);
    if (T.rep_left > 0 && T.peer) return;
    uv_timer_stop(t);
    free(T.rep);
    T.rep = NULL;
    T.blocked = B_NONE;
    pump();
}

/* A decimal count in s (all of it); -1 if s is not one. */
static long long count_of(const char *s)
{
    if (!s || !*s) return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end || v < 0 ? -1 : v;
}

static void bad_line(const char *text)
{
    fprintf(stderr, "lunet-peer: line %lu: bad command '%s' (try --help)\n", T.lineno, text);
    finish(1);
}

static void run(char *text)
{
    T.lineno++;
    char *arg = strchr(text, ' ');
    if (arg) *arg++ = '\0';
    if (!text[0] || text[0] == '#') return;
    long long n = count_of(arg);
    if (!strcmp(text, "send") && arg) {
        size_t len = strlen(arg) / 2;
        uint8_t *b = malloc(len ? len : 1);
        if (!b) die("%s", "out of memory");
        if (strlen(arg) % 2 || (len && ln_unhex(arg, b, len) < 0)) {
            free(b);
            arg[-1] = ' ';
            bad_line(text);
            return;
        }
        send_frame("send", b, len);
        free(b);
    } else if ((!strcmp(text, "garbage") || !strcmp(text, "big")) && n >= 0) {
        if ((unsigned long long)n > T.max_frame) {
            fprintf(stderr, "lunet-peer: line %lu: %s: %lld bytes is more than --max-frame\n",
                    T.lineno, text, n);
            finish(1);
            return;
        }
        uint8_t *b = calloc((size_t)n ? (size_t)n : 1, 1);
        if (!b) die("%s", "out of memory");
        if (text[0] == 'g') randombytes_buf(b, (size_t)n);
        send_frame(text, b, (size_t)n);
        free(b);
    } else if (!strcmp(text, "file") && arg) {
        FILE *f = fopen(arg, "rb");
        uint8_t *b = NULL;
        long len = -1;
        if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
            (b = malloc(len ? (size_t)len : 1)) && fread(b, 1, (size_t)len, f) == (size_t)len) {
            send_frame("file", b, (size_t)len);
        } else {
            fprintf(stderr, "lunet-peer: line %lu: file %s: cannot read it\n", T.lineno, arg);
            finish(1);
        }
        free(b);
        if (f) fclose(f);
    } else if (!strcmp(text, "repeat") && arg && strchr(arg, ' ')) {
        char *hex = strchr(arg, ' ');
        *hex++ = '\0';
        long long k = count_of(arg);
        size_t len = strlen(hex) / 2;
        uint8_t *b = malloc(len ? len : 1);
        if (!b) die("%s", "out of memory");
        if (k < 0 || strlen(hex) % 2 || (len && ln_unhex(hex, b, len) < 0)) {
            free(b);
            hex[-1] = ' ';
            arg[-1] = ' ';
            bad_line(text);
            return;
        }
        T.rep = b;
        T.rep_len = len;
        T.rep_left = (unsigned long long)k;
        T.blocked = B_REPEAT;
        uv_timer_start(&T.wait, on_repeat, 0, 1);
    } else if (!strcmp(text, "quiet") && !arg) {
        T.quiet = 1;
    } else if (!strcmp(text, "count") && !arg) {
        printf("count %llu %llu\n", T.rx_frames, T.rx_bytes);
    } else if (!strcmp(text, "sleep") && n >= 0) {
        T.blocked = B_SLEEP;
        uv_timer_start(&T.wait, on_wait, (uint64_t)n, 0);
    } else if (!strcmp(text, "wait-down") && n >= 0) {
        if (T.down) {
            printf("down %s\n", down_reason());
        } else {
            T.blocked = B_WAIT_DOWN;
            uv_timer_start(&T.wait, on_wait, (uint64_t)n, 0);
        }
    } else if (!strcmp(text, "quit") && !arg) {
        finish(0);
    } else {
        if (arg) arg[-1] = ' ';
        bad_line(text);
    }
}

/* Runs queued lines until one blocks; none before the peer is up. */
static void pump(void)
{
    while (!T.blocked && !T.finishing && T.was_up) {
        uv_mutex_lock(&T.mu);
        line *l = T.head;
        if (l && !(T.head = l->next)) T.tail = NULL;
        uv_mutex_unlock(&T.mu);
        if (!l) return;
        if (l->text) run(l->text);
        else finish(0);                  /* the end of stdin */
        free(l->text);
        free(l);
    }
}

static void on_async(uv_async_t *a)
{
    (void)a;
    pump();
}

/* Lets queued frames go (code 0 only), then closes every handle; main()
** exits with code once the loop is empty. */
static void finish_close(void)
{
    close_net();
    uv_mutex_lock(&T.mu);
    T.async_closed = 1;
    uv_mutex_unlock(&T.mu);
    uv_close((uv_handle_t *)&T.async, NULL);
    uv_close((uv_handle_t *)&T.timeout, NULL);
    uv_close((uv_handle_t *)&T.wait, NULL);
}

static uint64_t flush_deadline;         /* uv_now at which unsent frames are given up */

static void on_flushed(uv_timer_t *t)
{
    if (T.peer && ln_peer_unsent(T.peer) > 0) {
        if (uv_now(t->loop) < flush_deadline) return;
        fprintf(stderr, "lunet-peer: %zu bytes still unsent after %llu ms; closing\n",
                ln_peer_unsent(T.peer), (unsigned long long)T.timeout_ms);
    }
    uv_timer_stop(t);
    finish_close();
}

static void finish(int code)
{
    if (T.finishing) return;
    T.finishing = 1;
    T.code = code;
    uv_timer_stop(&T.wait);
    T.blocked = B_NONE;
    free(T.rep);
    T.rep = NULL;
    if (code == 0 && T.peer && ln_peer_unsent(T.peer) > 0) {
        /* A remote that stops reading without closing must not hang us. */
        flush_deadline = uv_now(T.wait.loop) + T.timeout_ms;
        uv_timer_start(&T.wait, on_flushed, FLUSH_POLL_MS, FLUSH_POLL_MS);
        return;
    }
    finish_close();
}

/* ---- main -------------------------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg)
{
    fputs("lunet-peer: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (try --help)\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *keyfile = NULL, *chain = NULL, *addr = NULL;
    long long max_frame = DEFAULT_MAX_FRAME, timeout_ms = DEFAULT_TIMEOUT_MS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage, stdout); return 0; }
        if (i + 1 >= argc) return usage_error("unknown or incomplete argument '%s'", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--key")) keyfile = v;
        else if (!strcmp(a, "--chain")) chain = v;
        else if (!strcmp(a, "--connect")) addr = v;
        else if (!strcmp(a, "--max-frame")) {
            if ((max_frame = count_of(v)) <= 0 || max_frame > (long long)UINT32_MAX - 64)
                return usage_error("--max-frame: '%s' is not a frame size", v);
        } else if (!strcmp(a, "--timeout-ms")) {
            if ((timeout_ms = count_of(v)) <= 0)
                return usage_error("--timeout-ms: '%s' is not a positive count", v);
        } else {
            return usage_error("unknown argument '%s'", a);
        }
    }
    if (!keyfile || !chain || !addr)
        return usage_error("%s", "--key, --chain and --connect are required");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (ln_crypto_init() < 0) die("%s", "libsodium does not initialise");

    ln_key k;
    char kerr[160];
    if (ln_keyfile_read(keyfile, &k, kerr, sizeof kerr) < 0) {
        fprintf(stderr, "lunet-peer: %s: %s\n", keyfile, kerr);
        return 1;
    }
    ln_net_config cfg;
    memset(&cfg, 0, sizeof cfg);
    memcpy(cfg.pk, k.pk, LN_PK_LEN);
    memcpy(cfg.sk, k.sk, LN_SK_LEN);
    sodium_memzero(&k, sizeof k);
    cfg.chain_id = chain;
    cfg.max_frame = (size_t)max_frame;
    cfg.max_outbuf = 2 * cfg.max_frame + 64;   /* two big frames may queue */
    cfg.handshake_ms = (uint64_t)timeout_ms;
    cfg.allow = on_allow;
    cfg.on_peer = on_peer;
    cfg.on_frame = on_frame;
    T.timeout_ms = (uint64_t)timeout_ms;
    T.max_frame = cfg.max_frame;

    if (uv_loop_init(&T.loop) < 0 || uv_mutex_init(&T.mu) < 0 ||
        uv_async_init(&T.loop, &T.async, on_async) < 0)
        die("%s", "libuv does not initialise");
    uv_timer_init(&T.loop, &T.timeout);
    uv_timer_init(&T.loop, &T.wait);
    int rc = ln_net_start(&T.loop, &cfg, &T.net);
    sodium_memzero(&cfg, sizeof cfg);
    if (rc < 0) {
        fprintf(stderr, "lunet-peer: P2P: %s\n", ln_strerror(rc));
        return 1;
    }
    if ((rc = ln_net_connect(T.net, addr)) < 0) {
        fprintf(stderr, "lunet-peer: --connect %s: %s\n", addr, ln_strerror(rc));
        return 1;
    }
    uv_timer_start(&T.timeout, on_timeout, (uint64_t)timeout_ms, 0);
    uv_thread_t th;
    if (uv_thread_create(&th, reader, NULL) < 0) die("%s", "no reader thread");

    uv_run(&T.loop, UV_RUN_DEFAULT);
    /* The reader may still block in getline: exit without joining it. */
    fflush(stdout);
    _exit(T.code);
}
