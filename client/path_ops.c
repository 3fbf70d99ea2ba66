/* Path-based helpers for the CLI: resolve, split, open by path, mkdir -p. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "client/fs_internal.h"

int cfs_path_split(const char *path, char *parent, char *name)
{
    if (!path || path[0] != '/') return -EINVAL;
    size_t len = strlen(path);
    if (len >= CFS_PATH_MAX) return -ENAMETOOLONG;
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len == 1) return -EINVAL; /* "/" has no last component */
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t nlen = len - start;
    if (nlen > CFS_NAME_MAX) return -ENAMETOOLONG;
    memcpy(name, path + start, nlen);
    name[nlen] = 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return -EINVAL;
    size_t plen = start;
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    memcpy(parent, path, plen);
    parent[plen] = 0;
    return 0;
}

int cfs_resolve(cfs_fs *fs, const char *path, bool follow, const cfs_cred *cred, cfs_attr *out)
{
    if (!path || path[0] != '/') return -EINVAL;
    if (strlen(path) >= CFS_PATH_MAX) return -ENAMETOOLONG;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__ResolveReq op = CHUNKFS__RESOLVE_REQ__INIT;
    op.path = (char *)path;
    op.follow = follow;
    req.op_case = CHUNKFS__META_REQUEST__OP_RESOLVE;
    req.resolve = &op;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, cred, &req, &resp);
    if (rc == 0) {
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_ATTR)
            rc = -EPROTO;
        else if (out)
            attr_from_pb(resp->attr, out);
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

int cfs_open_path(cfs_fs *fs, const char *path, int flags, uint32_t mode, const cfs_cred *cred,
                  cfs_file **out)
{
    if (!(flags & O_CREAT)) {
        cfs_attr a;
        int rc = cfs_resolve(fs, path, true, cred, &a);
        if (rc < 0) return rc;
        return cfs_open(fs, a.ino, flags, cred, out);
    }
    char *parent = malloc(CFS_PATH_MAX);
    char name[CFS_NAME_MAX + 1];
    if (!parent) return -ENOMEM;
    int rc = cfs_path_split(path, parent, name);
    cfs_attr pa;
    if (rc == 0) rc = cfs_resolve(fs, parent, true, cred, &pa);
    if (rc == 0 && !S_ISDIR(pa.mode)) rc = -ENOTDIR;
    free(parent);
    if (rc < 0) return rc;
    return cfs_create(fs, pa.ino, name, mode, flags & ~O_CREAT, cred, NULL, out);
}

int cfs_mkdir_path(cfs_fs *fs, const char *path, uint32_t mode, bool parents, const cfs_cred *cred,
                   cfs_attr *out)
{
    if (!path || path[0] != '/') return -EINVAL;
    if (strlen(path) >= CFS_PATH_MAX) return -ENAMETOOLONG;
    if (!parents) {
        char *parent = malloc(CFS_PATH_MAX);
        char name[CFS_NAME_MAX + 1];
        if (!parent) return -ENOMEM;
        int rc = cfs_path_split(path, parent, name);
        cfs_attr pa;
        if (rc == 0) rc = cfs_resolve(fs, parent, true, cred, &pa);
        free(parent);
        if (rc == 0 && !S_ISDIR(pa.mode)) rc = -ENOTDIR;
        if (rc < 0) return rc == -EINVAL && strspn(path, "/") == strlen(path) ? -EEXIST : rc;
        return cfs_mkdir(fs, pa.ino, name, mode, cred, out);
    }
    /* mkdir -p: walk from the root, creating what is missing. */
    char *copy = strdup(path);
    if (!copy) return -ENOMEM;
    cfs_attr cur;
    memset(&cur, 0, sizeof(cur));
    int rc = cfs_getattr(fs, CFS_ROOT_INO, cred, &cur);
    char *save = NULL;
    for (char *tok = strtok_r(copy, "/", &save); tok && rc == 0; tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0) continue;
        if (strcmp(tok, "..") == 0) {
            rc = -EINVAL;
            break;
        }
        if (!S_ISDIR(cur.mode)) {
            rc = -ENOTDIR;
            break;
        }
        cfs_attr next;
        rc = cfs_lookup(fs, cur.ino, tok, cred, &next);
        if (rc == -ENOENT) {
            rc = cfs_mkdir(fs, cur.ino, tok, mode, cred, &next);
            if (rc == -EEXIST) /* created meanwhile by someone else */
                rc = cfs_lookup(fs, cur.ino, tok, cred, &next);
        }
        if (rc == 0 && S_ISLNK(next.mode)) {
            /* Follow a symlinked directory the way mkdir -p does. */
            rc = cfs_resolve(fs, path, true, cred, &next) == 0 ? 0 : -ENOTDIR;
        }
        if (rc == 0) cur = next;
    }
    free(copy);
    if (rc == 0 && !S_ISDIR(cur.mode)) rc = -ENOTDIR;
    if (rc == 0 && out) *out = cur;
    return rc;
}
