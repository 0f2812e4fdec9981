/* test_addr.c -- "host:port" text to socket addresses (core/addr.c), and the
** LN_E* codes of libuv's bind and listen errors. The listeners that use
** them are tested in test_http.c and test_net.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <uv.h>

#include "test.h"
#include "addr.h"
#include "err.h"

/* addr parsed: its family, text address and port. */
static void parses_to(const char *addr, int family, const char *ip, int port)
{
    struct sockaddr_storage ss;
    char text[64];
    if (ln_addr_parse(addr, &ss) != 0) LN_FAIL("\"%s\" was refused", addr);
    ASSERT_EQ(ss.ss_family, family);
    if (family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
        ASSERT_EQ(ntohs(a->sin_port), port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
        ASSERT_EQ(ntohs(a->sin6_port), port);
    }
    ASSERT_STR(text, ip);
}

TEST(addr_parse_reads_ipv4_bracketed_ipv6_and_localhost)
{
    parses_to("127.0.0.1:8765", AF_INET, "127.0.0.1", 8765);
    parses_to("0.0.0.0:0", AF_INET, "0.0.0.0", 0);
    parses_to("10.1.2.3:65535", AF_INET, "10.1.2.3", 65535);
    parses_to("localhost:7765", AF_INET, "127.0.0.1", 7765);
    parses_to("[::1]:8765", AF_INET6, "::1", 8765);
    parses_to("[2001:db8::7]:80", AF_INET6, "2001:db8::7", 80);
    parses_to("127.0.0.1:00080", AF_INET, "127.0.0.1", 80);      /* five digits at most */
}

TEST(addr_parse_refuses_names_bad_ports_and_broken_brackets)
{
    const char *bad[] = {
        "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:65536", "127.0.0.1:000080", "127.0.0.1:8a",
        "127.0.0.1:-1", "127.0.0.1: 80", "node.example:80", "127.0.0.256:80", "1.2.3:80",
        "[::1:80", "[::1]80", "[::1]:", "[nohost]:80", "", ":",
        "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:01]:80",
        "0000000000000000000000000000000000000000000000000000000000000127.0.0.1:80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct sockaddr_storage ss;
        if (ln_addr_parse(bad[i], &ss) != LN_EINVAL) LN_FAIL("\"%s\" was not refused", bad[i]);
    }
}

TEST(addr_uverr_names_what_binding_or_listening_ran_into)
{
    ASSERT_EQ(ln_addr_uverr(UV_EADDRINUSE), LN_EEXIST);
    ASSERT_EQ(ln_addr_uverr(UV_EADDRNOTAVAIL), LN_EINVAL);
    ASSERT_EQ(ln_addr_uverr(UV_EINVAL), LN_EINVAL);
    ASSERT_EQ(ln_addr_uverr(UV_EAFNOSUPPORT), LN_EINVAL);
    ASSERT_EQ(ln_addr_uverr(UV_ENOMEM), LN_ENOMEM);
    ASSERT_EQ(ln_addr_uverr(UV_EACCES), LN_EIO);
}

static const ln_test tests[] = {
    T(addr_parse_reads_ipv4_bracketed_ipv6_and_localhost),
    T(addr_parse_refuses_names_bad_ports_and_broken_brackets),
    T(addr_uverr_names_what_binding_or_listening_ran_into),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
