/* Extended attributes, per inode a list sorted by name. Namespaces as Linux: user.* (files and
 * directories; read/write permission), trusted.* (root only; hidden from others),
 * security.* (readable by all, set by root), system.* is not supported (no ACLs). */
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

enum xns { XNS_USER, XNS_TRUSTED, XNS_SECURITY };

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int xattr_ns(const char *name, size_t *len, enum xns *ns)
{
    size_t n = strlen(name);
    if (n > META_FSM_XATTR_NAME_MAX) return -ERANGE;
    size_t plen;
    if (has_prefix(name, "user.")) {
        *ns = XNS_USER;
        plen = 5;
    } else if (has_prefix(name, "trusted.")) {
        *ns = XNS_TRUSTED;
        plen = 8;
    } else if (has_prefix(name, "security.")) {
        *ns = XNS_SECURITY;
        plen = 9;
    } else {
        return n == 0 ? -EINVAL : -EOPNOTSUPP;
    }
    if (n == plen) return -EINVAL;
    *len = n;
    return 0;
}

void mf_xattrs_free(struct mf_xattr *x)
{
    while (x) {
        struct mf_xattr *n = x->next;
        free(x);
        x = n;
    }
}

/* Link to the attribute with this name, or to where it would be inserted. */
static struct mf_xattr **xattr_link(struct mf_xattr **head, const char *name, size_t len,
                                    bool *found)
{
    struct mf_xattr **p = head;
    *found = false;
    while (*p) {
        int c = mf_name_cmp((*p)->data, (*p)->nlen, name, len);
        if (c == 0) *found = true;
        if (c >= 0) break;
        p = &(*p)->next;
    }
    return p;
}

/* Permission to change attribute `ns` on `in`: 0, -EPERM or -EACCES. */
static int may_modify(const struct mf_ctx *c, const struct mf_inode *in, enum xns ns)
{
    if (ns == XNS_TRUSTED || ns == XNS_SECURITY) return c->cred->uid == 0 ? 0 : -EPERM;
    if (in->type != MF_FILE && in->type != MF_DIR) return -EPERM;
    /* Sticky directories keep user.* attributes to their owner (Linux xattr_permission). */
    if (in->type == MF_DIR && (in->mode & 01000) && !mf_is_owner_or_root(c->cred, in))
        return -EPERM;
    return mf_access(c->cred, in, MF_W);
}

int mf_op_setxattr(struct mf_ctx *c, const Chunkfs__SetxattrReq *r, Chunkfs__MetaResponse *resp)
{
    (void)resp;
    struct mf_inode *in = mf_iget(c->fsm, r->ino);
    if (!in) return -ENOENT;
    size_t len;
    enum xns ns;
    int rc = xattr_ns(r->name, &len, &ns);
    if (rc) return rc;
    if (r->flags & ~(META_XATTR_CREATE | META_XATTR_REPLACE)) return -EINVAL;
    if (r->flags == (META_XATTR_CREATE | META_XATTR_REPLACE)) return -EINVAL;
    if (r->value.len > META_FSM_XATTR_VALUE_MAX) return -E2BIG;
    rc = may_modify(c, in, ns);
    if (rc) return rc;
    struct mf_xattr **head = in->ext ? &in->ext->xattrs : NULL;
    bool found = false;
    struct mf_xattr **link = head ? xattr_link(head, r->name, len, &found) : NULL;
    if (found && (r->flags & META_XATTR_CREATE)) return -EEXIST;
    if (!found && (r->flags & META_XATTR_REPLACE)) return -ENODATA;

    struct mf_xattr *x = malloc(sizeof(*x) + len + 1 + r->value.len);
    if (!x) return -ENOMEM;
    x->nlen = (uint8_t)len;
    x->vlen = (uint32_t)r->value.len;
    memcpy(x->data, r->name, len + 1);
    if (r->value.len) memcpy(x->data + len + 1, r->value.data, r->value.len);
    if (!head) {
        if (!mf_ext_get(in)) {
            free(x);
            return -ENOMEM;
        }
        link = xattr_link(&in->ext->xattrs, r->name, len, &found);
    }
    if (found) {
        struct mf_xattr *old = *link;
        x->next = old->next;
        free(old);
    } else {
        x->next = *link;
    }
    *link = x;
    in->ctime = c->now;
    return 0;
}

int mf_op_removexattr(struct mf_ctx *c, const Chunkfs__RemovexattrReq *r,
                      Chunkfs__MetaResponse *resp)
{
    (void)resp;
    struct mf_inode *in = mf_iget(c->fsm, r->ino);
    if (!in) return -ENOENT;
    size_t len;
    enum xns ns;
    int rc = xattr_ns(r->name, &len, &ns);
    if (rc) return rc;
    rc = may_modify(c, in, ns);
    if (rc) return rc;
    bool found = false;
    struct mf_xattr **link = in->ext ? xattr_link(&in->ext->xattrs, r->name, len, &found) : NULL;
    if (!found) return -ENODATA;
    struct mf_xattr *old = *link;
    *link = old->next;
    free(old);
    mf_ext_trim(in);
    in->ctime = c->now;
    return 0;
}

int mf_read_getxattr(const struct mf_ctx *c, const Chunkfs__GetxattrReq *r,
                     Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in = mf_iget(c->fsm, r->ino);
    if (!in) return -ENOENT;
    size_t len;
    enum xns ns;
    int rc = xattr_ns(r->name, &len, &ns);
    if (rc) return rc;
    if (ns == XNS_TRUSTED && c->cred->uid != 0) return -ENODATA;
    if (ns == XNS_USER && (in->type == MF_FILE || in->type == MF_DIR)) {
        rc = mf_access(c->cred, in, MF_R);
        if (rc) return rc;
    }
    bool found = false;
    struct mf_xattr **link = in->ext ? xattr_link(&in->ext->xattrs, r->name, len, &found) : NULL;
    if (!found) return -ENODATA;
    const struct mf_xattr *x = *link;
    uint8_t *v = malloc(x->vlen ? x->vlen : 1);
    if (!v) return -ENOMEM;
    memcpy(v, x->data + x->nlen + 1, x->vlen);
    resp->result_case = CHUNKFS__META_RESPONSE__RESULT_XATTR_VALUE;
    resp->xattr_value.data = v;
    resp->xattr_value.len = x->vlen;
    return 0;
}

int mf_read_listxattr(const struct mf_ctx *c, const Chunkfs__ListxattrReq *r,
                      Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in = mf_iget(c->fsm, r->ino);
    if (!in) return -ENOENT;
    Chunkfs__ListxattrResp *lr = malloc(sizeof(*lr));
    if (!lr) return -ENOMEM;
    chunkfs__listxattr_resp__init(lr);
    resp->result_case = CHUNKFS__META_RESPONSE__RESULT_XATTR_NAMES;
    resp->xattr_names = lr;
    size_t n = 0;
    for (const struct mf_xattr *x = in->ext ? in->ext->xattrs : NULL; x; x = x->next)
        n++;
    if (n == 0) return 0;
    lr->names = calloc(n, sizeof(*lr->names));
    if (!lr->names) return -ENOMEM;
    for (const struct mf_xattr *x = in->ext->xattrs; x; x = x->next) {
        if (c->cred->uid != 0 && has_prefix(x->data, "trusted.")) continue;
        char *s = mf_strdup(x->data, x->nlen);
        if (!s) return -ENOMEM;
        lr->names[lr->n_names++] = s;
    }
    return 0;
}
