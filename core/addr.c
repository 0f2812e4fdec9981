/* addr.c -- "host:port" to a socket address. */
#include <string.h>
#include <stdlib.h>

#include <uv.h>

#include "addr.h"
#include "err.h"

int ln_addr_parse(const char *addr, struct sockaddr_storage *ss)
{
    char host[64];
    const char *port;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof host) return LN_EINVAL;
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon || (size_t)(colon - addr) >= sizeof host) return LN_EINVAL;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    }
    if (!*port || strlen(port) > 5) return LN_EINVAL;
    for (const char *q = port; *q; q++)
        if (*q < '0' || *q > '9') return LN_EINVAL;
    long pn = strtol(port, NULL, 10);
    if (pn > 65535) return LN_EINVAL;
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(host, (int)pn, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, (int)pn, (struct sockaddr_in6 *)ss) == 0) return 0;
    return LN_EINVAL;
}

int ln_addr_uverr(int e)
{
    switch (e) {
    case UV_EADDRINUSE: return LN_EEXIST;
    case UV_EADDRNOTAVAIL: case UV_EINVAL: case UV_EAFNOSUPPORT: return LN_EINVAL;
    case UV_ENOMEM: return LN_ENOMEM;
    default: return LN_EIO;
    }
}
