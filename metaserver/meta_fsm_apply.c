/* Apply of log entries and read dispatch: decodes a MetaCommand, runs it with the leader's
 * context, and keeps the exactly-once session table (per client, the packed responses of its
 * last MF_SESSION_WINDOW mutations). */
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

static const Chunkfs__Cred *cred_or_nobody(const Chunkfs__MetaRequest *req)
{
    static const Chunkfs__Cred nobody = {PROTOBUF_C_MESSAGE_INIT(&chunkfs__cred__descriptor), 65534,
                                         65534, 0, NULL};
    return req->cred ? req->cred : &nobody;
}

/* Requests whose oneof is set but whose message is missing cannot be served. */
static bool op_present(const Chunkfs__MetaRequest *req)
{
    /* protobuf-c stores every oneof member pointer at the same union address. */
    return req->op_case != CHUNKFS__META_REQUEST__OP__NOT_SET && req->lookup != NULL;
}

static int mutate(struct mf_ctx *c, const Chunkfs__MetaRequest *req, Chunkfs__MetaResponse *resp)
{
    switch (req->op_case) {
    case CHUNKFS__META_REQUEST__OP_SETATTR:
        return mf_op_setattr(c, req->setattr, resp);
    case CHUNKFS__META_REQUEST__OP_MKDIR:
        return mf_op_mkdir(c, req->mkdir, resp);
    case CHUNKFS__META_REQUEST__OP_CREATE:
        return mf_op_create(c, req->create, resp);
    case CHUNKFS__META_REQUEST__OP_UNLINK:
        return mf_op_unlink(c, req->unlink, resp);
    case CHUNKFS__META_REQUEST__OP_RMDIR:
        return mf_op_rmdir(c, req->rmdir, resp);
    case CHUNKFS__META_REQUEST__OP_RENAME:
        return mf_op_rename(c, req->rename, resp);
    case CHUNKFS__META_REQUEST__OP_LINK:
        return mf_op_link(c, req->link, resp);
    case CHUNKFS__META_REQUEST__OP_SYMLINK:
        return mf_op_symlink(c, req->symlink, resp);
    case CHUNKFS__META_REQUEST__OP_SETXATTR:
        return mf_op_setxattr(c, req->setxattr, resp);
    case CHUNKFS__META_REQUEST__OP_REMOVEXATTR:
        return mf_op_removexattr(c, req->removexattr, resp);
    case CHUNKFS__META_REQUEST__OP_OPEN:
        return mf_op_open(c, req->open, resp);
    case CHUNKFS__META_REQUEST__OP_CLOSE:
        return mf_op_close(c, req->close, resp);
    case CHUNKFS__META_REQUEST__OP_RENEW_LEASE:
        return mf_op_renew(c, req->renew_lease, resp);
    case CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK:
        return mf_op_alloc_chunk(c, req->alloc_chunk, resp);
    case CHUNKFS__META_REQUEST__OP_COMMIT_WRITE:
        return mf_op_commit_write(c, req->commit_write, resp);
    case CHUNKFS__META_REQUEST__OP_SET_GOAL:
        return mf_op_set_goal(c, req->set_goal, resp);
    default:
        return -EINVAL;
    }
}

static struct mf_session *session_get(const meta_fsm *fsm, uint64_t client_id)
{
    uint64_t v;
    return mf_kv_get(&fsm->sessions, client_id, &v) ? (struct mf_session *)(uintptr_t)v : NULL;
}

/* Remembers the response to (client, request_id). 0 or -ENOMEM. */
static int session_record(meta_fsm *fsm, uint64_t client_id, uint64_t request_id, int64_t now,
                          const Chunkfs__MetaResponse *resp)
{
    struct mf_session *s = session_get(fsm, client_id);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s) return -ENOMEM;
        s->client_id = client_id;
        if (mf_kv_put(&fsm->sessions, client_id, (uint64_t)(uintptr_t)s) != 0) {
            free(s);
            return -ENOMEM;
        }
    }
    size_t len = chunkfs__meta_response__get_packed_size(resp);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return -ENOMEM;
    chunkfs__meta_response__pack(resp, buf);
    if (s->n == s->cap && s->cap < MF_SESSION_WINDOW) {
        uint32_t ncap = s->cap ? s->cap * 2 : 4;
        struct mf_sess_entry *nr = realloc(s->ring, ncap * sizeof(*nr));
        if (!nr) {
            free(buf);
            return -ENOMEM;
        }
        s->ring = nr;
        s->cap = ncap;
    }
    if (s->n == MF_SESSION_WINDOW) {
        if (s->ring[0].request_id > s->floor) s->floor = s->ring[0].request_id;
        free(s->ring[0].resp);
        memmove(&s->ring[0], &s->ring[1], (MF_SESSION_WINDOW - 1) * sizeof(s->ring[0]));
        s->n--;
    }
    s->ring[s->n++] = (struct mf_sess_entry){request_id, buf, (uint32_t)len};
    s->last_seen_ns = now;
    return 0;
}

/* Forgets sessions idle for MF_SESSION_IDLE_NS. 0 or -ENOMEM (fatal: which sessions survive
 * is replicated state). */
static int sessions_sweep(meta_fsm *fsm, int64_t now)
{
    if (now - fsm->last_sweep_ns < MF_SESSION_SWEEP_NS) return 0;
    fsm->last_sweep_ns = now;
    /* Collect first: deleting while scanning would move entries across the scan position. */
    size_t n = 0;
    uint64_t *victims = NULL;
    for (size_t i = 0; i < fsm->sessions.cap; i++) {
        if (!fsm->sessions.slots[i].key) continue;
        struct mf_session *s = (struct mf_session *)(uintptr_t)fsm->sessions.slots[i].val;
        if (now - s->last_seen_ns < MF_SESSION_IDLE_NS) continue;
        uint64_t *v = realloc(victims, (n + 1) * sizeof(*v));
        if (!v) {
            free(victims);
            return -ENOMEM;
        }
        victims = v;
        victims[n++] = s->client_id;
    }
    for (size_t i = 0; i < n; i++) {
        struct mf_session *s = session_get(fsm, victims[i]);
        for (uint32_t k = 0; k < s->n; k++)
            free(s->ring[k].resp);
        free(s->ring);
        free(s);
        mf_kv_del(&fsm->sessions, victims[i]);
    }
    free(victims);
    return 0;
}

static int apply_client(meta_fsm *fsm, const Chunkfs__MetaCommand *cmd,
                        Chunkfs__MetaResponse **resp)
{
    const Chunkfs__MetaRequest *req = cmd->client;
    struct mf_ctx c = {fsm,
                       cred_or_nobody(req),
                       req->client_id,
                       cmd->now_ns,
                       cmd->lease_ms ? cmd->lease_ms : META_FSM_DEFAULT_LEASE_MS,
                       cmd,
                       cmd->max_open};
    if (!op_present(req)) return -EINVAL;
    if (!meta_fsm_is_mutation(req)) return mf_read_dispatch(&c, req, *resp);
    if (req->client_id == 0) return -EINVAL;

    struct mf_session *s = session_get(fsm, req->client_id);
    if (s) {
        for (uint32_t i = 0; i < s->n; i++) {
            if (s->ring[i].request_id != req->request_id) continue;
            Chunkfs__MetaResponse *old =
                chunkfs__meta_response__unpack(NULL, s->ring[i].len, s->ring[i].resp);
            if (!old) return -ENOMEM;
            chunkfs__meta_response__free_unpacked(*resp, NULL);
            *resp = old;
            s->last_seen_ns = cmd->now_ns;
            return 0;
        }
        if (req->request_id <= s->floor) return -ESTALE;
    }
    int rc = mutate(&c, req, *resp);
    if (rc == -ENOMEM) return rc;
    if (rc < 0) {
        chunkfs__meta_response__free_unpacked(*resp, NULL);
        *resp = mf_resp_new();
        if (!*resp) return -ENOMEM;
        (*resp)->err = rc;
    }
    return session_record(fsm, req->client_id, req->request_id, cmd->now_ns, *resp);
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int apply_format(meta_fsm *fsm, const Chunkfs__FormatCmd *f, int64_t now)
{
    if (fsm->cluster_id[0]) return -EEXIST;
    if (fsm->next_chunk_id != 1) return -EBUSY; /* chunk size can no longer change */
    size_t idlen = strlen(f->cluster_id);
    if (idlen == 0 || idlen >= sizeof(fsm->cluster_id)) return -EINVAL;
    uint64_t cs = f->chunk_size ? f->chunk_size : META_FSM_DEFAULT_CHUNK_SIZE;
    if (!is_pow2(cs) || cs < (64u << 10) || cs > (1u << 30)) return -EINVAL;
    uint32_t goal = f->root_goal ? f->root_goal : META_FSM_DEFAULT_GOAL;
    if (goal > META_FSM_MAX_GOAL) return -EINVAL;
    struct mf_inode *root = mf_iget(fsm, MF_ROOT_INO);
    memcpy(fsm->cluster_id, f->cluster_id, idlen + 1);
    fsm->chunk_size = cs;
    root->goal = (uint8_t)goal;
    root->mode = (uint16_t)(f->root_mode ? (f->root_mode & 07777) : 0755);
    root->atime = root->mtime = root->ctime = now;
    return 0;
}

int meta_fsm_apply(meta_fsm *fsm, const uint8_t *entry, size_t len, Chunkfs__MetaResponse **out)
{
    *out = NULL;
    Chunkfs__MetaResponse *resp = mf_resp_new();
    if (!resp) return -ENOMEM;
    Chunkfs__MetaCommand *cmd = chunkfs__meta_command__unpack(NULL, len, entry);
    if (!cmd) {
        resp->err = -EINVAL;
        *out = resp;
        return 0;
    }
    if (sessions_sweep(fsm, cmd->now_ns) != 0) {
        chunkfs__meta_command__free_unpacked(cmd, NULL);
        chunkfs__meta_response__free_unpacked(resp, NULL);
        return -ENOMEM;
    }
    struct mf_ctx c = {fsm, NULL, 0, cmd->now_ns, 0, cmd, 0};
    int rc;
    switch (cmd->cmd_case) {
    case CHUNKFS__META_COMMAND__CMD_CLIENT:
        rc = apply_client(fsm, cmd, &resp);
        break;
    case CHUNKFS__META_COMMAND__CMD_FORMAT:
        rc = apply_format(fsm, cmd->format, cmd->now_ns);
        break;
    case CHUNKFS__META_COMMAND__CMD_DROP_DELETED:
        rc = mf_cmd_drop_deleted(fsm, cmd->drop_deleted);
        break;
    case CHUNKFS__META_COMMAND__CMD_RECOVER_LEASE:
        rc = mf_cmd_recover_lease(&c, cmd->recover_lease);
        break;
    default:
        rc = -EINVAL;
    }
    chunkfs__meta_command__free_unpacked(cmd, NULL);
    if (rc == -ENOMEM) {
        if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
        return -ENOMEM;
    }
    if (rc < 0) {
        chunkfs__meta_response__free_unpacked(resp, NULL);
        resp = mf_resp_new();
        if (!resp) return -ENOMEM;
        resp->err = rc;
    }
    *out = resp;
    return 0;
}

bool meta_fsm_request_applied(const meta_fsm *fsm, uint64_t client_id, uint64_t request_id)
{
    const struct mf_session *s = session_get(fsm, client_id);
    if (!s) return false;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->ring[i].request_id == request_id) return true;
    return false;
}

int meta_fsm_read(const meta_fsm *fsm, const Chunkfs__MetaRequest *req, Chunkfs__MetaResponse **out)
{
    *out = NULL;
    Chunkfs__MetaResponse *resp = mf_resp_new();
    if (!resp) return -ENOMEM;
    /* Reads never modify: the const is dropped only to share the context type with apply. */
    struct mf_ctx c = {(meta_fsm *)fsm, cred_or_nobody(req), req->client_id, 0, 0, NULL, 0};
    int rc = op_present(req) ? mf_read_dispatch(&c, req, resp) : -EINVAL;
    if (rc == -ENOMEM) {
        chunkfs__meta_response__free_unpacked(resp, NULL);
        return -ENOMEM;
    }
    if (rc < 0) {
        chunkfs__meta_response__free_unpacked(resp, NULL);
        resp = mf_resp_new();
        if (!resp) return -ENOMEM;
        resp->err = rc;
    }
    *out = resp;
    return 0;
}
