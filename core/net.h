/*
** net.h -- the P2P transport: authenticated, encrypted frames over TCP (libuv).
**
** A net listens (optionally) and dials the addresses it is given, keeping
** each dialed connection up: after a loss it redials with exponential backoff
** (LN_NET_BACKOFF_MIN_MS doubling to LN_NET_BACKOFF_MAX_MS) until the net
** closes. Every connection, either way, runs the same handshake, then
** carries encrypted frames. This is the whole wire, for an implementation
** in another language:
**
** Framing. Every frame, in both directions and in every phase, is
**   u32be len ‖ len bytes
** len is checked before anything is allocated: at most LN_NET_HELLO_MAX
** during the handshake, at most max_frame + 16 after (the node sets
** max_frame to 8 MiB + 64 KiB: LN_P2P_MAX_FRAME, p2p.h). A bigger len
** drops the connection with a strike (below).
**
** 1. Hello. Both ends send one at once, in the clear (a frame of 66 + L bytes):
**      u8 version (LN_NET_VERSION, 1) ‖ u8 L ‖ chain_id (L bytes, 1..255)
**      ‖ pk (32: the Ed25519 identity key) ‖ epk (32: a fresh X25519 key)
**    Each checks the other's: same version (else closed) and chain_id (else
**    closed, no strike), not our own pk, pk not held off by strikes,
**    allow(pk) == 1 (the member registry); a hello of the wrong length is
**    a strike on the sender's IP.
** 2. Transcript. th = BLAKE2b-256("lunet-net-v1" ‖ u16be len(Hd) ‖
**    u16be len(Hl) ‖ Hd ‖ Hl), Hd the dialer's hello and Hl the listener's,
**    each as sent (without its length prefix).
** 3. Auth. Each sends one frame of 64 bytes in the clear: the Ed25519
**    signature, with the identity key, of  role ‖ th  (33 bytes), role the
**    byte 'D' (0x44) from the dialer and 'L' (0x4c) from the listener; each
**    checks the other's against the pk of its hello.
** 4. Session keys: libsodium crypto_kx over the ephemeral keys (epk, not
**    the identities): the dialer is the client (crypto_kx_client_session_keys),
**    the listener the server; rx and tx as crypto_kx names them.
** 5. Frames. Each is XChaCha20-Poly1305 (IETF, libsodium's
**    crypto_aead_xchacha20poly1305_ietf) of the plaintext with the tx key,
**    no additional data, nonce = u64le counter ‖ 16 zero bytes, the counter
**    starting at 0 in each direction and counting every frame sent. So len
**    = plaintext + 16, and a replayed, reordered or altered frame fails to
**    decrypt and drops the peer with a strike. A plaintext of exactly one
**    byte 0x00 is a ping, answered by a plaintext of one byte 0x01 (pong);
**    the transport keeps both to itself. Every other plaintext is the
**    application's (p2p.h: a msgpack map), delivered in order.
** A handshake not done in handshake_ms closes the connection. Then
** on_peer(peer, 1).
**
** Strikes. A connection that breaks the protocol is dropped with a strike,
** and each strike holds off its target for penalty_ms << (strikes - 1) (at
** most 64x). Strikes decay: one is forgiven every strike_decay_ms after the
** last. Whom the strike names depends on how far the handshake got:
**   - before the other end's signature verified (bad length, garbage hello,
**     bad signature): its remote IP. That never refuses a connection (other
**     members may share the IP: NAT, a loopback test net): an IP held off
**     gets LN_NET_PREAUTH_HELD handshakes at a time instead of
**     LN_NET_PREAUTH_PER_IP, and LN_NET_HELD_HANDSHAKE_MS to finish each;
**     past the cap the oldest unfinished one from that IP is closed. A bad
**     signature also holds off that key claimed from that IP: it is refused
**     after its hello, before any signature work;
**   - after (oversized or undecryptable frame), and whenever the application
**     calls ln_peer_drop with why != 0: its identity key. A held-off identity
**     is refused at step 1 (ln_peer_why: LN_EHELDOFF) without a strike on
**     its IP; a dialer whose address last answered with that identity
**     waits the hold-off before redialing. Dialers never wait for their
**     address's IP strikes: those may be someone else's.
** Refusals for config reasons (chain_id, allow, ourselves) strike nobody.
**
** Two connections with one identity. Both ends dialed each other at once
** (the one up came up less than handshake_ms ago, the other was dialed by
** the other side): both keep the one dialed by the smaller public key.
** Otherwise the connection up stays up while it answers: the newcomer is
** held (not read, not up) and the old one is pinged; a pong within
** keepalive_ms closes the newcomer (LN_EEXIST, no strike), none closes the
** old one (LN_ETIMEDOUT) and the newcomer takes its place. So a second
** connection with an online member's key cannot evict the member; a peer
** that restarted behind a dead link gets back in keepalive_ms. One
** newcomer is held at a time. A dialer whose connection lost that way does
** not redial while the peer is up.
**
** Fair shares. A connection delivers at most LN_NET_TURN_FRAMES frames or
** LN_NET_TURN_BYTES bytes per loop turn; then it is not read until the
** next turn, so one peer's flood leaves timers, other peers and RPC their
** turn. A frame's buffer bigger than one read is given back after it.
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
#define LN_NET_MAX_FRAME        (4u << 20)   /* application frame, plaintext bytes (default) */
#define LN_NET_MAX_OUTBUF       (16u << 20)  /* unsent bytes per peer before it is dropped */
#define LN_NET_HELLO_MAX        512          /* handshake frame, bytes */
#define LN_NET_CHAIN_ID_MAX     255
#define LN_NET_HANDSHAKE_MS     5000
#define LN_NET_BACKOFF_MIN_MS   100
#define LN_NET_BACKOFF_MAX_MS   5000
#define LN_NET_PENALTY_MS       1000         /* first strike's hold-off */
#define LN_NET_STRIKE_DECAY_MS  30000        /* one strike forgiven per this, after the last */
#define LN_NET_KEEPALIVE_MS     2000         /* a pinged connection's time to answer */
#define LN_NET_PREAUTH_PER_IP   8            /* unfinished inbound handshakes per IP */
#define LN_NET_PREAUTH_HELD     2            /* ... from an IP held off by strikes */
#define LN_NET_HELD_HANDSHAKE_MS 1000        /* ... which must finish this fast */
#define LN_NET_PREAUTH_MAX      256          /* unfinished inbound handshakes in all */
#define LN_NET_TURN_FRAMES      64           /* frames one connection delivers per loop turn */
#define LN_NET_TURN_BYTES       (1u << 20)   /* ... or bytes (a bigger frame goes alone) */
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
    uint64_t strike_decay_ms, keepalive_ms;
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

/* Strikes recorded against an IP ("127.0.0.1") and not forgiven yet; 0 if none. */
int  ln_net_strikes(const ln_net *net, const char *ip);

/* Strikes recorded against an identity and not forgiven yet; 0 if none. */
int  ln_net_key_strikes(const ln_net *net, const uint8_t pk[LN_PK_LEN]);

/* Closes the listener, every connection (up peers get on_peer(peer, 0)) and
** every dialer. cb (may be NULL) runs once every handle is closed. Call once. */
void ln_net_close(ln_net *net, ln_net_close_cb cb, void *ud);

/* Queues one frame (copied, encrypted). LN_ETOOBIG (len > max_frame),
** LN_EINVAL (one byte 0x00 or 0x01: the transport's ping and pong),
** LN_ECLOSED (the peer is going away; also when this send would put more
** than max_outbuf bytes unsent: the peer is dropped as not reading),
** LN_ENOMEM. */
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

/* The application's pointer for the peer: NULL until set. */
void *ln_peer_data(const ln_peer *peer);
void ln_peer_set_data(ln_peer *peer, void *data);

/* Closes the connection; on_peer(peer, 0) follows from the loop. why (may be
** an LN_E* code or 0) is kept for ln_peer_why; why != 0 also strikes the
** peer's identity (see Strikes above), except LN_ENOTMEMBER (taken off the
** member list: no fault of its own). A no-op if already going. */
void ln_peer_drop(ln_peer *peer, int why);

/* Why the peer went away: 0 (remote closed or net closing) or an LN_E* code
** (LN_EBADSIG, LN_EDECRYPT, LN_ECHAINID, LN_ENOTMEMBER, LN_ESELF, LN_ESLOWPEER,
** LN_EHELDOFF, LN_ETOOBIG, LN_EBADKEY, LN_EEXIST, LN_ETIMEDOUT ...). Meant
** for the down callback. */
int  ln_peer_why(const ln_peer *peer);

#endif
