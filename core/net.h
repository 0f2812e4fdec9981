/*
** net.h -- the P2P transport: authenticated, encrypted frames over TCP (libuv).
**
** A net listens (optionally) and dials the addresses it is given, keeping
** each dialed connection up: after a loss it redials with exponential backoff
** (LN_NET_BACKOFF_MIN_MS doubling to LN_NET_BACKOFF_MAX_MS) until the net
** closes. Every connection, either way, runs the same handshake:
**
**   1. both send a hello {version, chain_id, identity pk, ephemeral X25519 pk};
**   2. both check the other's: same version and chain_id, not our own identity,
**      not an identity held off by strikes (below), and allow(pk) == 1 (the
**      member registry), else the connection closes;
**   3. both send an Ed25519 signature, with the identity key, over
**      BLAKE2b(dialer's hello || listener's hello) and their role, and check
**      the other's; session keys come from crypto_kx (the dialer is client);
**   4. then on_peer(peer, 1), and every frame is XChaCha20-Poly1305 with a
**      per-direction counter nonce: a replayed, reordered or altered frame
**      fails to decrypt and drops the peer.
** A handshake not done in handshake_ms closes the connection.
**
** Wire: each frame is a 4-byte big-endian length and that many bytes. The
** length is checked (LN_NET_HELLO_MAX during the handshake, max_frame + 16
** after) before anything is allocated.
**
** Strikes. A connection that breaks the protocol is dropped with a strike,
** and each strike holds off its target for penalty_ms << (strikes - 1) (at
** most 64x). Whom the strike names depends on how far the handshake got:
**   - before the other end's signature verified (bad length, garbage hello,
**     bad signature): its remote IP. Redialing that address waits the hold-off,
**     and from LN_NET_BAN_STRIKES strikes on, inbound connections from it are
**     closed at accept until the hold-off ends;
**   - after (oversized or undecryptable frame), and whenever the application
**     calls ln_peer_drop with why != 0: its identity key. A held-off identity
**     is refused at step 2 (ln_peer_why: LN_EHELDOFF) without a strike on
**     its IP, so other identities behind the same IP (NAT, a loopback test
**     net) still connect; a dialer whose address last answered with that
**     identity waits the hold-off before redialing.
** Refusals for config reasons (chain_id, allow, ourselves) strike nobody.
**
** Two connections between the same pair of identities (both dialed each
** other) are reduced to one: the one dialed by the smaller public key stays.
** A dialer whose connection lost that way does not redial while the peer is up.
**
** Lifetimes. A peer is valid from on_peer(peer, 1) until on_peer(peer, 0)
** returns; every up is followed by exactly one down (ln_net_close included).
** After ln_peer_drop, or once the connection breaks, ln_peer_send returns
** LN_ECLOSED until the down callback. Callbacks may call anything here,
** ln_net_close included. The net's memory goes after its close callback.
**
** int results: 0 or a negative LN_E* code (err.h). Inputs are borrowed for the
** call. Everything runs on the loop thread. Nothing here prints. Call
** ln_crypto_init() first.
*/
#ifndef LN_NET_H
#define LN_NET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "crypto.h"

#define LN_NET_VERSION          1
#define LN_NET_MAX_FRAME        (4u << 20)   /* application frame, plaintext bytes */
#define LN_NET_MAX_OUTBUF       (16u << 20)  /* unsent bytes per peer before it is dropped */
#define LN_NET_HELLO_MAX        512          /* handshake frame, bytes */
#define LN_NET_CHAIN_ID_MAX     255
#define LN_NET_HANDSHAKE_MS     5000
#define LN_NET_BACKOFF_MIN_MS   100
#define LN_NET_BACKOFF_MAX_MS   5000
#define LN_NET_PENALTY_MS       1000         /* first strike's hold-off */
#define LN_NET_BAN_STRIKES      3            /* inbound refused from here on */
#define LN_NET_OVERHEAD         16           /* AEAD tag per frame */

typedef struct ln_net ln_net;     /* opaque */
typedef struct ln_peer ln_peer;   /* opaque */

/* 1 to accept a peer with this identity (checked during the handshake). */
typedef int  (*ln_net_allow_cb)(void *ud, const uint8_t pk[LN_PK_LEN]);
/* up = 1: the handshake completed; up = 0: the peer is gone (freed on return). */
typedef void (*ln_net_peer_cb)(void *ud, ln_peer *peer, int up);
/* One decrypted frame; msg (len bytes) lives until this returns. */
typedef void (*ln_net_frame_cb)(void *ud, ln_peer *peer, const uint8_t *msg, size_t len);
/* Every handle is closed; net is freed when this returns. */
typedef void (*ln_net_close_cb)(ln_net *net, void *ud);

/* A zero field takes the default above; callbacks may be NULL (allow NULL
** accepts everyone). Strings are copied by ln_net_start. */
typedef struct {
    uint8_t pk[LN_PK_LEN];       /* the node's identity */
    uint8_t sk[LN_SK_LEN];       /* copied; wiped when the net is freed */
    const char *chain_id;        /* 1..LN_NET_CHAIN_ID_MAX bytes */
    const char *listen;          /* "IPv4:port", "[IPv6]:port", "localhost:port"; NULL: none */
    size_t max_frame, max_outbuf;
    uint64_t handshake_ms, backoff_min_ms, backoff_max_ms, penalty_ms;
    ln_net_allow_cb allow;
    ln_net_peer_cb on_peer;
    ln_net_frame_cb on_frame;
    void *ud;
} ln_net_config;

/* Sets *out only on success. LN_EINVAL (bad config or address), LN_EBADKEY
** (pk is not sk's), LN_EEXIST (address in use), LN_EIO, LN_ENOMEM. After a
** bind or listen failure a handle is still closing: run the loop before
** uv_loop_close(). Ignores SIGPIPE process-wide. */
int  ln_net_start(uv_loop_t *loop, const ln_net_config *cfg, ln_net **out);

/* The listening port, or 0 if the net does not listen. */
int  ln_net_port(const ln_net *net);

/* Dials addr ("IPv4:port", "[IPv6]:port", "localhost:port") now and keeps the
** connection up until the net closes. LN_EINVAL (bad address), LN_ECLOSED
** (the net is closing), LN_ENOMEM. */
int  ln_net_connect(ln_net *net, const char *addr);

/* Writes up to cap up peers to out (out may be NULL when cap is 0); returns
** how many are up. */
size_t ln_net_peers(const ln_net *net, ln_peer **out, size_t cap);

/* Strikes recorded against an IP ("127.0.0.1"); 0 if none. */
int  ln_net_strikes(const ln_net *net, const char *ip);

/* Strikes recorded against an identity; 0 if none. */
int  ln_net_key_strikes(const ln_net *net, const uint8_t pk[LN_PK_LEN]);

/* Closes the listener, every connection (up peers get on_peer(peer, 0)) and
** every dialer. cb (may be NULL) runs once every handle is closed (at once,
** before this returns, if the net had none open). Call once. */
void ln_net_close(ln_net *net, ln_net_close_cb cb, void *ud);

/* Queues one frame (copied, encrypted). LN_ETOOBIG (len > max_frame),
** LN_ECLOSED (the peer is going away; also when this send would put more than
** max_outbuf bytes unsent: the peer is dropped as not reading), LN_ENOMEM. */
int  ln_peer_send(ln_peer *peer, const void *msg, size_t len);

/* Bytes queued for the peer that the kernel has not taken yet (0 once the
** peer is going away): wait for 0 before closing to let the last frames go. */
size_t ln_peer_unsent(const ln_peer *peer);

/* The peer's identity (LN_PK_LEN bytes, valid as long as the peer). */
const uint8_t *ln_peer_key(const ln_peer *peer);

/* "ip:port" of the other end. */
const char *ln_peer_addr(const ln_peer *peer);

/* 1 if we dialed this peer, 0 if it dialed us. */
int  ln_peer_outbound(const ln_peer *peer);

/* Closes the connection; on_peer(peer, 0) follows from the loop. why (may be
** an LN_E* code or 0) is kept for ln_peer_why; why != 0 also strikes the
** peer's identity (see Strikes above), except LN_ENOTMEMBER (taken off the
** member list: no fault of its own). A no-op if already going. */
void ln_peer_drop(ln_peer *peer, int why);

/* Why the peer went away: 0 (remote closed or net closing) or an LN_E* code
** (LN_EBADSIG, LN_EDECRYPT, LN_ECHAINID, LN_ENOTMEMBER, LN_ESELF, LN_ESLOWPEER,
** LN_EHELDOFF, LN_ETOOBIG, LN_EBADKEY ...). Meant for the down
** callback. */
int  ln_peer_why(const ln_peer *peer);

#endif
