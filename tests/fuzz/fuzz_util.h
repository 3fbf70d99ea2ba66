#ifndef CFS_FUZZ_UTIL_H
#define CFS_FUZZ_UTIL_H
/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c). Each target defines
 * LLVMFuzzerTestOneInput and is linked either with libFuzzer (clang, `make fuzz`) or with
 * fuzz_driver.c (any compiler, the short runs in `make test`).
 *
 * Inputs of the targets that take several messages are a sequence of records, each a
 * little-endian u16 length followed by that many bytes (a short last record takes what is
 * left), so mutations keep most messages intact while changing one. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

/* Takes one byte; false at the end of the input. */
bool fuzz_take_u8(fuzz_in *in, uint8_t *v);
/* Takes one record (see above); false at the end of the input. */
bool fuzz_take_record(fuzz_in *in, const uint8_t **p, size_t *n);

/* Appends a record to buf (capacity cap) at *len: the seed generator's side. False if it does
 * not fit. */
bool fuzz_put_record(uint8_t *buf, size_t cap, size_t *len, const uint8_t *p, size_t n);

/* Logs only errors from now on: the code under test logs every bad input it refuses. */
void fuzz_quiet_logs(void);

/* A fresh empty directory for one input, under $TMPDIR (or /tmp); the same path each call
 * within a process (emptied first). Aborts if it cannot be made. */
const char *fuzz_fresh_dir(void);
/* Removes the directory fuzz_fresh_dir made, with everything in it. */
void fuzz_remove_dir(void);

/* Writes a whole file (creating parent directories); aborts on failure (not the input's
 * fault). */
void fuzz_write_file(const char *path, const uint8_t *data, size_t len);

/* Reports a broken invariant and aborts, so libFuzzer and the driver both stop there. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
