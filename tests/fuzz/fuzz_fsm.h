#ifndef CFS_FUZZ_FSM_H
#define CFS_FUZZ_FSM_H
/* meta_fsm helpers shared by the metaserver fuzz targets. */
#include <stddef.h>
#include <stdint.h>

#include "metaserver/meta_fsm.h"

#define FUZZ_FSM_NOW_NS 1700000000000000000ll

/* A fresh fsm formatted like a new cluster (FormatCmd applied); aborts on failure. */
meta_fsm *fuzz_fsm_formatted(void);

/* Applies a packed MetaCommand; aborts unless apply returns 0 with a response (bad input must
 * be answered, never crash or fail the apply), then packs the response the way the service
 * replies. Returns the response's err. */
int fuzz_fsm_apply(meta_fsm *fsm, const uint8_t *cmd, size_t len);

/* The invariants every state must keep: its snapshot restores (the restore validates tree
 * shape, link counts, names and unique ids), into a state equal to it. Aborts if not. */
void fuzz_fsm_check(const meta_fsm *fsm);

#endif
