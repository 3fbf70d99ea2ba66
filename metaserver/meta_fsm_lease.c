/* Write leases: one writing client per file. A lease is granted at open-for-write, shared by
 * the same client's further write opens (counted), extended by renew, released by the last
 * close. Expiry only matters to other clients: an expired lease is taken over by the next
 * opener (whose alloc_chunk bumps versions, so the old writer's data cannot win), or
 * released by the shell's RecoverLeaseCmd. */
#include <stdlib.h>

#include "metaserver/meta_fsm_internal.h"

struct mf_lease *mf_lease_check(const struct mf_ctx *c, const struct mf_inode *in,
                                uint64_t lease_id)
{
    struct mf_lease *l = in->ext ? in->ext->lease : NULL;
    if (!l || lease_id == 0 || l->id != lease_id || l->client_id != c->client_id) return NULL;
    return l;
}

bool mf_lease_conflict(const struct mf_ctx *c, const struct mf_inode *in)
{
    const struct mf_lease *l = in->ext ? in->ext->lease : NULL;
    return l && l->client_id != c->client_id && c->now < l->expiry_ns;
}

static uint64_t leases_of(const meta_fsm *fsm, uint64_t client_id)
{
    uint64_t n = 0;
    return mf_kv_get(&fsm->lease_counts, client_id, &n) ? n : 0;
}

int mf_lease_may_acquire(const struct mf_ctx *c, const struct mf_inode *in)
{
    const struct mf_lease *l = in && in->ext ? in->ext->lease : NULL;
    if (l && l->client_id == c->client_id) return 0; /* joins the lease it holds */
    if (c->max_open && leases_of(c->fsm, c->client_id) >= c->max_open) return -EMFILE;
    return 0;
}

int mf_lease_link(meta_fsm *fsm, struct mf_lease *l)
{
    int rc = mf_kv_put(&fsm->lease_counts, l->client_id, leases_of(fsm, l->client_id) + 1);
    if (rc) return rc;
    l->prev = NULL;
    l->next = fsm->leases;
    if (l->next) l->next->prev = l;
    fsm->leases = l;
    fsm->n_leases++;
    return 0;
}

void mf_lease_release(meta_fsm *fsm, struct mf_inode *in)
{
    struct mf_lease *l = in->ext->lease;
    if (l->prev)
        l->prev->next = l->next;
    else
        fsm->leases = l->next;
    if (l->next) l->next->prev = l->prev;
    fsm->n_leases--;
    uint64_t held = leases_of(fsm, l->client_id);
    if (held > 1)
        (void)mf_kv_put(&fsm->lease_counts, l->client_id, held - 1); /* in place: cannot fail */
    else
        mf_kv_del(&fsm->lease_counts, l->client_id);
    free(l);
    in->ext->lease = NULL;
    mf_ext_trim(in);
}

int mf_lease_acquire(struct mf_ctx *c, struct mf_inode *in, struct mf_lease **out)
{
    if (!mf_ext_get(in)) return -ENOMEM;
    struct mf_lease *l = in->ext->lease;
    if (l && l->client_id == c->client_id) {
        l->opens++;
        l->expiry_ns = c->now + (int64_t)c->lease_ms * 1000000;
        *out = l;
        return 0;
    }
    if (l) mf_lease_release(c->fsm, in); /* expired lease of another client: take it over */
    if (!mf_ext_get(in)) return -ENOMEM;
    l = calloc(1, sizeof(*l));
    if (!l) return -ENOMEM;
    l->id = c->fsm->next_lease_id++;
    l->client_id = c->client_id;
    l->expiry_ns = c->now + (int64_t)c->lease_ms * 1000000;
    l->opens = 1;
    l->ino = in->ino;
    int rc = mf_lease_link(c->fsm, l);
    if (rc) {
        free(l);
        return rc;
    }
    in->ext->lease = l;
    *out = l;
    return 0;
}

int mf_set_open_resp(const struct mf_ctx *c, const struct mf_inode *in, const struct mf_lease *l,
                     Chunkfs__MetaResponse *resp)
{
    Chunkfs__OpenResp *o = malloc(sizeof(*o));
    if (!o) return -ENOMEM;
    chunkfs__open_resp__init(o);
    resp->result_case = CHUNKFS__META_RESPONSE__RESULT_OPEN;
    resp->open = o;
    o->attr = malloc(sizeof(*o->attr));
    if (!o->attr) return -ENOMEM;
    mf_fill_attr(in, o->attr);
    o->lease_id = l ? l->id : 0;
    o->lease_ms = l ? c->lease_ms : 0;
    o->chunk_size = c->fsm->chunk_size;
    return 0;
}

static int lease_file(const struct mf_ctx *c, uint64_t ino, uint64_t lease_id, struct mf_inode **in,
                      struct mf_lease **l)
{
    *in = mf_iget(c->fsm, ino);
    if (!*in) return -ENOENT;
    if ((*in)->type == MF_DIR) return -EISDIR;
    if ((*in)->type != MF_FILE) return -EINVAL;
    *l = mf_lease_check(c, *in, lease_id);
    return *l ? 0 : -CFS_ELEASE;
}

int mf_op_close(struct mf_ctx *c, const Chunkfs__CloseReq *r, Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in;
    struct mf_lease *l;
    int rc = lease_file(c, r->ino, r->lease_id, &in, &l);
    if (rc) return rc;
    if (--l->opens == 0) {
        /* Only the last close: another handle of this client may still be writing chunk 0. */
        if (r->drop_unwritten_first) rc = mf_drop_unwritten_first(c->fsm, in);
        mf_lease_release(c->fsm, in);
        if (rc) return rc;
    }
    return mf_resp_attr(resp, in);
}

int mf_op_renew(struct mf_ctx *c, const Chunkfs__RenewLeaseReq *r, Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in;
    struct mf_lease *l;
    int rc = lease_file(c, r->ino, r->lease_id, &in, &l);
    if (rc) return rc;
    l->expiry_ns = c->now + (int64_t)c->lease_ms * 1000000;
    return mf_set_open_resp(c, in, l, resp);
}
