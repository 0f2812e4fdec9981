/* pmem.c -- a plugin's crash-safe memory (see pmem.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "err.h"
#include "pmem.h"

static const uint8_t MARKER = 0xc1;

static int path_of(const char *home, const char *key, char *path, size_t len, int tmp)
{
    char hex[2 * 64 + 1];
    size_t kl = strlen(key);
    if (kl > LN_PMEM_KEY_MAX) return LN_ETOOBIG;
    ln_hex((const uint8_t *)key, kl, hex);
    int w = snprintf(path, len, "%s/plugin/%s%s", home, hex, tmp ? ".tmp" : "");
    return w < 0 || (size_t)w >= len ? LN_ETOOBIG : 0;
}

static int put_file(const char *home, const char *key, const uint8_t *v, size_t len)
{
    char dir[600], path[800], tmp[800];
    snprintf(dir, sizeof dir, "%s/plugin", home);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return LN_EIO;
    if (path_of(home, key, path, sizeof path, 0) < 0 || path_of(home, key, tmp, sizeof tmp, 1) < 0)
        return LN_ETOOBIG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return LN_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, v + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int ok = off == len && fdatasync(fd) == 0;
    ok &= close(fd) == 0;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return LN_EIO;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* the rename, durable */
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int ln_pmem_put(ln_store *st, const char *home, const char *key, const uint8_t *v, size_t len)
{
    char k[LN_PMEM_KEY_MAX + 2];
    int kl = snprintf(k, sizeof k, "P%s", key);
    if (kl < 0 || (size_t)kl >= sizeof k) return LN_ETOOBIG;
    if (len >= LN_PMEM_FILE_BYTES) {
        int rc = put_file(home, key, v, len);
        if (rc < 0) return rc;
        return ln_store_put(st, (const uint8_t *)k, (size_t)kl, &MARKER, 1);
    }
    return ln_store_put(st, (const uint8_t *)k, (size_t)kl, v, len);
}

int ln_pmem_get(ln_store *st, const char *home, const char *key, size_t max, uint8_t **v,
                size_t *len)
{
    char k[LN_PMEM_KEY_MAX + 2];
    int kl = snprintf(k, sizeof k, "P%s", key);
    if (kl < 0 || (size_t)kl >= sizeof k) return LN_ETOOBIG;
    int rc = ln_store_get(st, (const uint8_t *)k, (size_t)kl, v, len);
    if (rc < 0 || *len != 1 || (*v)[0] != MARKER) return rc;
    free(*v);
    *v = NULL;
    char path[800];
    if (path_of(home, key, path, sizeof path, 0) < 0) return LN_ETOOBIG;
    char *data;
    size_t dl;
    if ((rc = ln_file_read_max(path, max, &data, &dl)) < 0)
        return rc == LN_ENOTFOUND ? LN_EIO : rc;
    *v = (uint8_t *)data;
    *len = dl;
    return 0;
}
