#ifndef CFS_TEST_CHUNK_PROCS_H
#define CFS_TEST_CHUNK_PROCS_H
/* Starting and stopping real chunkserver processes for integration tests and benchmarks:
 * 127.0.0.1 only, port 0 + --port-file, a metaserver address nobody listens on (the
 * chunkserver serves without one). Children die with their parent (PR_SET_PDEATHSIG), so a
 * failing test leaves no process behind. */
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

struct cs_proc {
    pid_t pid;
    int port;
    char addr[64];      /* "127.0.0.1:PORT" */
    char dir[PATH_MAX]; /* data dir */
    char log[PATH_MAX]; /* stdout+stderr of the process */
};

/* Creates <root>/<name> and starts build/bin/chunkfs-chunkserver on it ($CHUNKFS_BIN or the
 * compiled-in default) with `extra` arguments (NULL-terminated, may be NULL). Waits up to 30 s
 * for the port file. 0 or -errno (-ETIMEDOUT, -ECHILD when it exited). */
int cs_proc_start(struct cs_proc *p, const char *root, const char *name, const char *const *extra);
/* Sends `sig` and reaps the process (SIGTERM: waits up to 20 s, then SIGKILL). Returns the
 * exit status as from waitpid, or -1. Safe to call twice. */
int cs_proc_stop(struct cs_proc *p, int sig);

/* A fresh directory under ${TMPDIR:-/tmp}; 0 or -errno. */
int cs_make_root(char *buf, size_t len, const char *prefix);
/* rm -rf */
void cs_remove_tree(const char *path);

/* Deterministic test data for (chunk id, offset). */
void cs_pattern(uint64_t chunk_id, uint64_t off, uint8_t *buf, size_t len);

#endif
