/*
** addr.h -- "host:port" text to a socket address, for the node's listeners
** and dialers, and what their libuv errors mean. host is an IPv4 literal,
** "[IPv6]" or "localhost".
*/
#ifndef LN_ADDR_H
#define LN_ADDR_H

#include <sys/socket.h>

/* 0 and *ss filled, or LN_EINVAL for anything else (names other than
** localhost are not resolved: a node is configured with addresses). */
int ln_addr_parse(const char *addr, struct sockaddr_storage *ss);

/* The LN_E* code for a libuv error from binding or listening: LN_EEXIST
** (address in use), LN_EINVAL (address not usable), LN_ENOMEM, LN_EIO. */
int ln_addr_uverr(int uv_err);

#endif
