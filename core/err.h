/*
** err.h -- every lunet error code, in one list.
** Functions that can fail return 0 (or a count) on success and a negative
** LN_E* code on failure. The same codes are the stable codes of receipts
** and RPC errors; ln_errname() gives the short name ("EGAS").
*/
#ifndef LN_ERR_H
#define LN_ERR_H

#define LN_ERRNO_MAP(X)                                                   \
    /* generic */                                                         \
    X(ENOTFOUND,  -1,  "not found")                                       \
    X(EIO,        -2,  "storage i/o error")                               \
    X(ENOMEM,     -3,  "out of host memory")                              \
    X(EINVAL,     -4,  "invalid argument")                                \
    X(ELOCKED,    -5,  "store is locked by another process")              \
    X(EEXIST,     -6,  "already exists")                                  \
    /* codec: each way an encoding can be refused */                      \
    X(ETRUNC,     -10, "truncated encoding")                              \
    X(ETRAILING,  -11, "trailing bytes after the encoding")               \
    X(ENONCANON,  -12, "non-canonical encoding")                          \
    X(EFLOAT,     -13, "floats are not allowed")                          \
    X(EEXT,       -14, "msgpack ext types are not allowed")               \
    X(EDUPKEY,    -15, "duplicate map key")                               \
    X(EUNSORTED,  -16, "map keys are not sorted")                         \
    X(EKEYTYPE,   -17, "map keys must be strings")                        \
    X(EDEPTH,     -18, "nesting too deep")                                \
    X(ETOOBIG,    -19, "item too large")                                  \
    X(ERANGE,     -20, "integer out of the safe range")                   \
    X(ETYPE,      -21, "value of a type that cannot be encoded")          \
    X(EBADBYTE,   -22, "invalid msgpack type byte")                       \
    /* crypto and proofs */                                               \
    X(EBADSIG,    -30, "bad signature")                                   \
    X(EBADKEY,    -31, "bad key")                                         \
    X(EPROOF,     -32, "proof does not verify")                           \
    /* transactions and accounts */                                       \
    X(EBADTX,     -40, "malformed transaction")                           \
    X(ECHAINID,   -41, "wrong chain_id")                                  \
    X(ENONCE,     -42, "wrong nonce")                                     \
    X(EEXPIRED,   -43, "transaction expired")                             \
    X(ENOACCOUNT, -44, "unknown account")                                 \
    X(EAUTH,      -45, "insufficient permission weight")                  \
    X(EBALANCE,   -46, "insufficient balance")                            \
    X(EBADNAME,   -47, "invalid account name")                            \
    X(EDUPSIG,    -48, "duplicate signature key")                         \
    X(ETXSIZE,    -49, "transaction too large")                           \
    X(EFULL,      -50, "mempool full")                                    \
    X(EUNDERPRICED, -51, "replacement needs a higher max_fee")            \
    X(EKNOWN,     -52, "transaction already known")                       \
    X(EQUOTA,     -53, "over the resource quota")                         \
    X(EFROZEN,    -54, "account is frozen")                               \
    X(EPRICING,   -55, "refused by the pricing plugin")                   \
    X(EMAXFEE,    -56, "max_fee does not cover the fee")                  \
    /* execution */                                                       \
    X(EGAS,       -60, "out of gas")                                      \
    X(EMEM,       -61, "out of memory")                                   \
    X(ECALL,      -62, "contract call failed")                            \
    X(ENOCODE,    -63, "account has no contract")                         \
    X(ENOMETHOD,  -64, "no such method")                                  \
    X(EPRIVATE,   -65, "method is private")                               \
    X(ECODE,      -66, "contract code does not load")                     \
    X(EDEPTHCALL, -67, "call depth exceeded")                             \
    X(EREADONLY,  -68, "write in a read-only call")                      \
    /* node */                                                            \
    X(ECONFIG,    -80, "bad config")                                      \
    X(EFINGERPRINT, -81, "VM fingerprint differs from the chain's")       \
    X(EPLUGIN,    -82, "plugin failed")                                   \
    X(EBADBLOCK,  -83, "invalid block")                                   \
    X(ECLOSED,    -84, "the node is shutting down")                       \
    X(EBUSY,      -85, "too many queries waiting: try again later")       \
    X(EFINAL,     -86, "would revert a final block")                      \
    X(EORPHAN,    -87, "the block's parent is unknown")                   \
    /* peers */                                                           \
    X(ENOTMEMBER, -90, "peer is not a member")                            \
    X(ESLOWPEER,  -91, "peer does not read what it is sent")              \
    X(ESELF,      -92, "connection to this node itself")                  \
    X(EDECRYPT,   -93, "frame does not decrypt")                          \
    X(EHELDOFF,   -94, "peer held off after protocol violations")         \
    X(ETIMEDOUT,  -95, "peer did not answer in time")

enum {
#define LN_ERR_ENUM(name, code, msg) LN_##name = code,
    LN_ERRNO_MAP(LN_ERR_ENUM)
#undef LN_ERR_ENUM
    LN_OK = 0
};

#include <stddef.h>

const char *ln_strerror(int code);   /* "out of gas"; "unknown error" otherwise */
const char *ln_errname(int code);    /* "EGAS"; "EUNKNOWN" otherwise */

/* Writes the printf-style reason into buf (when buf is not NULL and len > 0)
** and returns code: `return ln_errf(err, errlen, LN_EINVAL, "bad %s", x);` */
int ln_errf(char *buf, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
