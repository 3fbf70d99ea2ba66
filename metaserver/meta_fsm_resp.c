/* Response construction: every part of a MetaResponse is malloc'd so the caller can free the
 * whole tree with chunkfs__meta_response__free_unpacked(resp, NULL). */
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

Chunkfs__MetaResponse *mf_resp_new(void)
{
    Chunkfs__MetaResponse *r = malloc(sizeof(*r));
    if (r) chunkfs__meta_response__init(r);
    return r;
}

int mf_resp_attr(Chunkfs__MetaResponse *resp, const struct mf_inode *in)
{
    Chunkfs__Attr *a = malloc(sizeof(*a));
    if (!a) return -ENOMEM;
    mf_fill_attr(in, a);
    resp->result_case = CHUNKFS__META_RESPONSE__RESULT_ATTR;
    resp->attr = a;
    return 0;
}

char *mf_strdup(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}
