/* Extended attributes. */
#include <errno.h>
#include <string.h>
#include <sys/xattr.h>

#include "client/fs_internal.h"

#define XATTR_NAME_MAX_LEN 255
#define XATTR_VALUE_MAX (64u * 1024)

static int check_xattr_name(const char *name)
{
    if (!name || !name[0]) return -EINVAL;
    if (strlen(name) > XATTR_NAME_MAX_LEN) return -ERANGE;
    return 0;
}

int cfs_setxattr(cfs_fs *fs, uint64_t ino, const char *name, const void *value, size_t size,
                 int flags, const cfs_cred *cred)
{
    int rc = check_xattr_name(name);
    if (rc < 0) return rc;
    if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -EINVAL;
    if (size > XATTR_VALUE_MAX) return -E2BIG;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__SetxattrReq op = CHUNKFS__SETXATTR_REQ__INIT;
    op.ino = ino;
    op.name = (char *)name;
    op.value.data = (uint8_t *)value;
    op.value.len = size;
    op.flags = (uint32_t)flags;
    req.op_case = CHUNKFS__META_REQUEST__OP_SETXATTR;
    req.setxattr = &op;
    return meta_call(fs, cred, &req, NULL);
}

ssize_t cfs_getxattr(cfs_fs *fs, uint64_t ino, const char *name, void *buf, size_t size,
                     const cfs_cred *cred)
{
    int rc = check_xattr_name(name);
    if (rc < 0) return rc;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__GetxattrReq op = CHUNKFS__GETXATTR_REQ__INIT;
    op.ino = ino;
    op.name = (char *)name;
    req.op_case = CHUNKFS__META_REQUEST__OP_GETXATTR;
    req.getxattr = &op;
    Chunkfs__MetaResponse *resp = NULL;
    ssize_t out = meta_call(fs, cred, &req, &resp);
    if (out == 0) {
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_XATTR_VALUE) {
            out = -EPROTO;
        } else {
            size_t n = resp->xattr_value.len;
            if (size == 0)
                out = (ssize_t)n;
            else if (n > size)
                out = -ERANGE;
            else {
                if (n) memcpy(buf, resp->xattr_value.data, n);
                out = (ssize_t)n;
            }
        }
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return out;
}

ssize_t cfs_listxattr(cfs_fs *fs, uint64_t ino, char *buf, size_t size, const cfs_cred *cred)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__ListxattrReq op = CHUNKFS__LISTXATTR_REQ__INIT;
    op.ino = ino;
    req.op_case = CHUNKFS__META_REQUEST__OP_LISTXATTR;
    req.listxattr = &op;
    Chunkfs__MetaResponse *resp = NULL;
    ssize_t out = meta_call(fs, cred, &req, &resp);
    if (out == 0) {
        /* An inode without xattrs may come back with an empty result. */
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_XATTR_NAMES &&
            resp->result_case != CHUNKFS__META_RESPONSE__RESULT__NOT_SET) {
            out = -EPROTO;
        } else {
            size_t need = 0;
            const Chunkfs__ListxattrResp *l = resp->xattr_names;
            for (size_t i = 0; l && i < l->n_names; i++)
                need += strlen(l->names[i]) + 1;
            if (size == 0)
                out = (ssize_t)need;
            else if (need > size)
                out = -ERANGE;
            else {
                size_t pos = 0;
                for (size_t i = 0; l && i < l->n_names; i++) {
                    size_t n = strlen(l->names[i]) + 1;
                    memcpy(buf + pos, l->names[i], n);
                    pos += n;
                }
                out = (ssize_t)need;
            }
        }
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return out;
}

int cfs_removexattr(cfs_fs *fs, uint64_t ino, const char *name, const cfs_cred *cred)
{
    int rc = check_xattr_name(name);
    if (rc < 0) return rc;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__RemovexattrReq op = CHUNKFS__REMOVEXATTR_REQ__INIT;
    op.ino = ino;
    op.name = (char *)name;
    req.op_case = CHUNKFS__META_REQUEST__OP_REMOVEXATTR;
    req.removexattr = &op;
    return meta_call(fs, cred, &req, NULL);
}
