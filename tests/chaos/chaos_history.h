#ifndef CHAOS_HISTORY_H
#define CHAOS_HISTORY_H
/* The chaos workload's history and what it obliges the file system to keep.
 *
 * History file: a header line, then one line per event, appended with one write(2) each (so
 * several threads can share the file and a killed writer leaves whole lines):
 *   # chaos seed=S max_size=M files=F dir=/D
 *   <ms> invoke write <file> <gen>      an attempt to replace file <file> by generation <gen>
 *   <ms> ok write <file> <gen>          ... acknowledged (fsync and close returned 0)
 *   <ms> fail write <file> <gen> <rc>   ... failed with rc (negative errno)
 *   <ms> invoke|ok|fail unlink <file> 0 [rc]
 *   <ms> ok read <file> <gen>           a read during the run matched <gen> (-1: absent)
 *   <ms> bad read <file> <gen>          a read returned data no acceptable state explains
 * <ms> is CLOCK_REALTIME in milliseconds. Files are named <dir>/f<file>.
 *
 * Obligations: only `ok` events oblige. After `ok write g` the file must hold exactly
 * generation g; an `invoke` not followed by `ok` (failed, or in flight when the writer
 * died) additionally allows what that attempt may have left: for a write, any prefix of its
 * generation in which unwritten ranges read as zeros; for an unlink, no file. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chaos_params {
    uint64_t seed;
    uint64_t max_size;
    uint32_t files;
    char dir[256];
} chaos_params;

typedef enum { CHAOS_INVOKE, CHAOS_OK, CHAOS_FAIL, CHAOS_BAD } chaos_event;
typedef enum { CHAOS_WRITE, CHAOS_UNLINK, CHAOS_READ } chaos_op;

/* ------------------------------------------------------------------ recording */

typedef struct chaos_history chaos_history;
/* Creates (truncates) `path` and writes the header. 0 or -errno. */
int chaos_history_create(const char *path, const chaos_params *p, chaos_history **out);
/* Appends one event line; returns 0 or -errno (the caller treats a failure as fatal: a
 * history with holes proves nothing). */
int chaos_history_add(chaos_history *h, chaos_event ev, chaos_op op, uint32_t file, int64_t gen,
                      int rc);
void chaos_history_close(chaos_history *h);

/* ------------------------------------------------------------------ expectations */

/* What one file may hold now. */
typedef struct chaos_expect {
    int64_t acked;     /* generation that must be there; -1: the file must be absent */
    bool maybe_absent; /* an unacknowledged unlink may have removed it */
    size_t nmaybe;
    size_t cap;
    uint64_t *maybe; /* generations of unacknowledged writes that may have landed */
} chaos_expect;

void chaos_expect_init(chaos_expect *e);
void chaos_expect_free(chaos_expect *e);
/* Applies one event of this file (reads change nothing). -ENOMEM possible. */
int chaos_expect_apply(chaos_expect *e, chaos_event ev, chaos_op op, int64_t gen);

typedef enum { CHAOS_VERDICT_OK, CHAOS_VERDICT_LOST, CHAOS_VERDICT_CORRUPT } chaos_verdict;

/* Judges what was read: present=false means the file does not exist. LOST: acknowledged
 * data is missing (file gone, shorter, or an older generation); CORRUPT: anything else not
 * allowed. `why` gets a one-line explanation; *matched the generation matched (-1: absent). */
chaos_verdict chaos_expect_verify(const chaos_expect *e, const chaos_params *p, uint32_t file,
                                  bool present, const uint8_t *data, uint64_t len, int64_t *matched,
                                  char *why, size_t why_cap);

/* ------------------------------------------------------------------ loading */

typedef struct chaos_loaded {
    chaos_params params;
    chaos_expect *expect; /* params.files entries */
    uint64_t operations;  /* completed operations (ok + fail) */
    uint64_t acknowledged;
    uint64_t bad_reads;
} chaos_loaded;

/* Parses a history file. -EINVAL (with a message on stderr naming the line) if malformed. */
int chaos_history_load(const char *path, chaos_loaded *out);
void chaos_loaded_free(chaos_loaded *l);

#endif
