/* meta_fsm helpers shared by the metaserver fuzz targets (see fuzz_fsm.h). */
#include "fuzz_fsm.h"

#include <stdlib.h>

#include "fuzz_util.h"
#include "metaserver/meta_cmd.h"

/* Packs the response like MetaService does before replying (checks it is well-formed). */
static void pack_and_free(Chunkfs__MetaResponse *resp)
{
    size_t n = chunkfs__meta_response__get_packed_size(resp);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) fuzz_fail("out of memory");
    if (chunkfs__meta_response__pack(resp, buf) != n) fuzz_fail("response packs short");
    free(buf);
    chunkfs__meta_response__free_unpacked(resp, NULL);
}

int fuzz_fsm_apply(meta_fsm *fsm, const uint8_t *cmd, size_t len)
{
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_fsm_apply(fsm, cmd, len, &resp);
    if (rc != 0 || !resp) fuzz_fail("meta_fsm_apply returned %d (response %p)", rc, (void *)resp);
    int err = resp->err;
    pack_and_free(resp);
    return err;
}

meta_fsm *fuzz_fsm_formatted(void)
{
    meta_fsm *fsm = meta_fsm_create();
    if (!fsm) fuzz_fail("meta_fsm_create");
    meta_fsm_set_hash_seed(fsm, 42);
    uint8_t *buf;
    size_t len;
    if (meta_cmd_pack_format("fuzz-cluster", 1u << 20, 3, FUZZ_FSM_NOW_NS, &buf, &len) != 0)
        fuzz_fail("meta_cmd_pack_format");
    if (fuzz_fsm_apply(fsm, buf, len) != 0) fuzz_fail("format refused");
    free(buf);
    return fsm;
}

void fuzz_fsm_check(const meta_fsm *fsm)
{
    uint8_t *img;
    size_t len;
    if (meta_fsm_snapshot(fsm, &img, &len) != 0) fuzz_fail("meta_fsm_snapshot");
    meta_fsm *copy = meta_fsm_create();
    if (!copy) fuzz_fail("meta_fsm_create");
    int rc = meta_fsm_restore(copy, img, len);
    if (rc != 0) fuzz_fail("the state's own snapshot does not restore: %d", rc);
    if (!meta_fsm_equal(fsm, copy)) fuzz_fail("restored state differs from the original");
    free(img);
    meta_fsm_destroy(copy);
}
