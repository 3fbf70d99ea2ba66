/* Fuzz target: the metaserver state machine's snapshot image reader (meta_fsm_restore), what a
 * node loads from its snapshot file or receives from the leader. Input: a flags byte, then the
 * image. Flag bit 0 recomputes the image's trailing CRC-32 first, so the fuzzer gets past the
 * checksum to the parser. A refused image must leave the state unchanged; an accepted one
 * must pass fuzz_fsm_check and restore again to an equal state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_fsm.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    fuzz_in in = {data, size};
    uint8_t flags = 0;
    fuzz_take_u8(&in, &flags);
    uint8_t *img = malloc(in.n ? in.n : 1);
    if (!img) return 0;
    if (in.n) memcpy(img, in.p, in.n);
    if ((flags & 1) && in.n >= 4) {
        uint32_t c = (uint32_t)(crc32_z(0L, img, in.n - 4) & 0xffffffffu);
        for (int i = 0; i < 4; i++) /* little-endian, as the image stores it */
            img[in.n - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
    }
    meta_fsm *fsm = fuzz_fsm_formatted();
    meta_fsm *before = fuzz_fsm_formatted();
    int rc = meta_fsm_restore(fsm, img, in.n);
    if (rc == 0) {
        fuzz_fsm_check(fsm);
    } else if (rc != -EINVAL && rc != -ENOMEM) {
        fuzz_fail("meta_fsm_restore returned %d", rc);
    } else if (!meta_fsm_equal(fsm, before)) {
        fuzz_fail("a refused image changed the state");
    }
    meta_fsm_destroy(before);
    meta_fsm_destroy(fsm);
    free(img);
    return 0;
}
