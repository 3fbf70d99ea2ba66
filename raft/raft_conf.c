/* Byte encodings of membership configurations and membership changes (see raft.h), and
 * the rule that applies a CONF_CHANGE entry to a membership. The format is little-endian
 * with a leading version so that it can grow. CONF_CHANGE entry data is
 *   u32 CC_VERSION | u32 type | u64 id | u16 addr length | addr   (ADD_VOTER/LEARNER, REMOVE)
 *   u32 CC_VERSION | u32 RAFT_CC_SET | raft_conf_encode() bytes     (whole membership) */
#include <errno.h>
#include <string.h>

#include "common/byte_order.h"
#include "raft/raft.h"

#define CONF_VERSION 1u
#define CC_VERSION 1u

/* Writes a NUL-terminated address as u16 length + bytes; returns bytes written or -ENOSPC. */
static int put_addr(uint8_t *p, size_t cap, const char *addr)
{
    size_t n = strnlen(addr, RAFT_ADDR_MAX);
    if (n >= RAFT_ADDR_MAX) return -EINVAL;
    if (cap < 2 + n) return -ENOSPC;
    p[0] = (uint8_t)n;
    p[1] = (uint8_t)(n >> 8);
    memcpy(p + 2, addr, n);
    return (int)(2 + n);
}

static int get_addr(const uint8_t *p, size_t len, char *addr)
{
    if (len < 2) return -EINVAL;
    size_t n = (size_t)p[0] | ((size_t)p[1] << 8);
    if (n >= RAFT_ADDR_MAX || len < 2 + n) return -EINVAL;
    memcpy(addr, p + 2, n);
    if (memchr(addr, 0, n) != NULL) return -EINVAL;
    addr[n] = 0;
    return (int)(2 + n);
}

int raft_conf_find(const raft_conf *c, uint64_t id)
{
    for (int i = 0; i < c->n; i++)
        if (c->members[i].id == id) return i;
    return -1;
}

int raft_conf_encode(const raft_conf *c, uint8_t *buf, size_t cap)
{
    if (c->n < 0 || c->n > RAFT_MAX_MEMBERS) return -EINVAL;
    if (cap < 8) return -ENOSPC;
    cfs_put_le32(buf, CONF_VERSION);
    cfs_put_le32(buf + 4, (uint32_t)c->n);
    size_t off = 8;
    for (int i = 0; i < c->n; i++) {
        const raft_member *m = &c->members[i];
        if (cap - off < 9) return -ENOSPC;
        cfs_put_le64(buf + off, m->id);
        buf[off + 8] = m->learner ? 1 : 0;
        off += 9;
        int w = put_addr(buf + off, cap - off, m->addr);
        if (w < 0) return w;
        off += (size_t)w;
    }
    return (int)off;
}

int raft_conf_decode(const uint8_t *buf, size_t len, raft_conf *out)
{
    if (len < 8 || cfs_get_le32(buf) != CONF_VERSION) return -EINVAL;
    uint32_t n = cfs_get_le32(buf + 4);
    if (n > RAFT_MAX_MEMBERS) return -EINVAL;
    memset(out, 0, sizeof(*out));
    size_t off = 8;
    for (uint32_t i = 0; i < n; i++) {
        raft_member *m = &out->members[i];
        if (len - off < 9) return -EINVAL;
        m->id = cfs_get_le64(buf + off);
        if (m->id == 0 || buf[off + 8] > 1) return -EINVAL;
        m->learner = buf[off + 8] == 1;
        off += 9;
        int r = get_addr(buf + off, len - off, m->addr);
        if (r < 0) return r;
        off += (size_t)r;
        if (raft_conf_find(out, m->id) >= 0) return -EINVAL; /* duplicate member */
        out->n = (int)i + 1;
    }
    if (off != len) return -EINVAL;
    out->n = (int)n;
    return 0;
}

static int n_voters(const raft_conf *c)
{
    int n = 0;
    for (int i = 0; i < c->n; i++)
        n += !c->members[i].learner;
    return n;
}

int raft_conf_set_encode(const raft_conf *c, uint8_t *buf, size_t cap)
{
    if (c->n < 1 || c->n > RAFT_MAX_MEMBERS || n_voters(c) == 0) return -EINVAL;
    for (int i = 0; i < c->n; i++) {
        if (c->members[i].id == 0) return -EINVAL;
        for (int j = 0; j < i; j++)
            if (c->members[j].id == c->members[i].id) return -EINVAL;
    }
    if (cap < 8) return -ENOSPC;
    cfs_put_le32(buf, CC_VERSION);
    cfs_put_le32(buf + 4, RAFT_CC_SET);
    int w = raft_conf_encode(c, buf + 8, cap - 8);
    if (w < 0) return w;
    return 8 + w;
}

int raft_conf_change_encode(const raft_conf_change *cc, uint8_t *buf, size_t cap)
{
    if (cap < 20) return -ENOSPC;
    cfs_put_le32(buf, CC_VERSION);
    cfs_put_le32(buf + 4, cc->type);
    cfs_put_le64(buf + 8, cc->id);
    int w = put_addr(buf + 16, cap - 16, cc->addr);
    if (w < 0) return w;
    return 16 + w;
}

int raft_conf_change_decode(const uint8_t *buf, size_t len, raft_conf_change *out)
{
    if (len < 18 || cfs_get_le32(buf) != CC_VERSION) return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->type = cfs_get_le32(buf + 4);
    out->id = cfs_get_le64(buf + 8);
    if (out->id == 0) return -EINVAL;
    if (out->type != RAFT_CC_ADD_VOTER && out->type != RAFT_CC_ADD_LEARNER &&
        out->type != RAFT_CC_REMOVE)
        return -EINVAL;
    int r = get_addr(buf + 16, len - 16, out->addr);
    if (r < 0) return r;
    if ((size_t)(16 + r) != len) return -EINVAL;
    return 0;
}

static void apply_change(raft_conf *c, const raft_conf_change *cc)
{
    int i = raft_conf_find(c, cc->id);
    switch (cc->type) {
    case RAFT_CC_ADD_VOTER:
        if (i < 0) {
            if (c->n >= RAFT_MAX_MEMBERS) return;
            i = c->n++;
            memset(&c->members[i], 0, sizeof(c->members[i]));
            c->members[i].id = cc->id;
        }
        c->members[i].learner = false;
        if (cc->addr[0]) memcpy(c->members[i].addr, cc->addr, sizeof(cc->addr));
        break;
    case RAFT_CC_ADD_LEARNER:
        if (i >= 0 || c->n >= RAFT_MAX_MEMBERS) return;
        i = c->n++;
        memset(&c->members[i], 0, sizeof(c->members[i]));
        c->members[i].id = cc->id;
        c->members[i].learner = true;
        memcpy(c->members[i].addr, cc->addr, sizeof(cc->addr));
        break;
    case RAFT_CC_REMOVE:
        if (i >= 0) c->members[i] = c->members[--c->n];
        break;
    }
}

int raft_conf_entry_apply(raft_conf *c, const uint8_t *data, size_t len)
{
    if (len >= 8 && cfs_get_le32(data) == CC_VERSION && cfs_get_le32(data + 4) == RAFT_CC_SET) {
        raft_conf set;
        /* The same rules as at encoding: a set no encoder would write is malformed. */
        if (raft_conf_decode(data + 8, len - 8, &set) < 0 || n_voters(&set) == 0) return -EINVAL;
        *c = set;
        return 0;
    }
    raft_conf_change cc;
    int rc = raft_conf_change_decode(data, len, &cc);
    if (rc < 0) return rc;
    apply_change(c, &cc);
    return 0;
}
