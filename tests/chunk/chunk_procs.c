#include "chunk_procs.h"

#include "chunkserver/chunk_client.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CFS_DEFAULT_BIN
#define CFS_DEFAULT_BIN "."
#endif

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cs_make_root(char *buf, size_t len, const char *prefix)
{
    const char *t = getenv("TMPDIR");
    if (snprintf(buf, len, "%s/%s_XXXXXX", t && *t ? t : "/tmp", prefix) >= (int)len)
        return -ENAMETOOLONG;
    return mkdtemp(buf) ? 0 : -errno;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

void cs_remove_tree(const char *path)
{
    if (path && path[0]) nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int cs_proc_start(struct cs_proc *p, const char *root, const char *name, const char *const *extra)
{
    memset(p, 0, sizeof *p);
    p->pid = -1;
    char portfile[PATH_MAX + 8], bin[PATH_MAX];
    snprintf(p->dir, sizeof p->dir, "%.3000s/%.100s", root, name);
    snprintf(p->log, sizeof p->log, "%.3000s/%.100s.log", root, name);
    snprintf(portfile, sizeof portfile, "%.3000s/%.100s.port", root, name);
    const char *bdir = getenv("CHUNKFS_BIN");
    snprintf(bin, sizeof bin, "%.4000s/chunkfs-chunkserver",
             bdir && *bdir ? bdir : CFS_DEFAULT_BIN);
    if (mkdir(p->dir, 0755) < 0 && errno != EEXIST) return -errno;
    unlink(portfile);
    const char *argv[64] = {bin,           "--listen",    "127.0.0.1:0", "--meta",
                            "127.0.0.1:1", "--data-dir",  p->dir,        "--cluster-id",
                            "test",        "--port-file", portfile,      "--domain",
                            name};
    int argc = 13;
    for (int i = 0; extra && extra[i] && argc < 62; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int fd = open(p->log, O_CREAT | O_WRONLY | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    p->pid = pid;
    int64_t deadline = now_ms() + 30000;
    while (now_ms() < deadline) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port) == 1 && port > 0;
            fclose(f);
            if (ok) {
                p->port = port;
                snprintf(p->addr, sizeof p->addr, "127.0.0.1:%d", port);
                break;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            p->pid = -1;
            fprintf(stderr, "chunkserver %s exited early (status %d); see %s\n", name, st, p->log);
            return -ECHILD;
        }
        usleep(20000);
    }
    /* Serving: poll until a call gets an answer (any answer but a transport error), so the
     * caller's first real call finds a connected channel. */
    while (p->port > 0 && now_ms() < deadline) {
        uint64_t v, l;
        int rc = chunk_client_info(p->addr, 1, 2000, &v, &l);
        if (rc != -ENOTCONN && rc != -ETIMEDOUT) return 0;
        usleep(20000);
    }
    cs_proc_stop(p, SIGKILL);
    return -ETIMEDOUT;
}

int cs_proc_stop(struct cs_proc *p, int sig)
{
    if (p->pid <= 0) return -1;
    kill(p->pid, sig);
    int st = -1;
    int64_t deadline = now_ms() + 20000;
    for (;;) {
        pid_t r = waitpid(p->pid, &st, sig == SIGKILL ? 0 : WNOHANG);
        if (r == p->pid) break;
        if (r < 0) {
            st = -1;
            break;
        }
        if (now_ms() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            st = -1;
            break;
        }
        usleep(10000);
    }
    p->pid = -1;
    return st;
}

void cs_pattern(uint64_t chunk_id, uint64_t off, uint8_t *buf, size_t len)
{
    /* Each 8-byte word is a hash of (chunk id, word index): any shift or mix-up shows. */
    for (size_t i = 0; i < len;) {
        uint64_t pos = off + i;
        uint64_t w = pos / 8;
        uint64_t x = (chunk_id * 0x9E3779B97F4A7C15ull) ^ (w * 0xC2B2AE3D27D4EB4Full);
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 32;
        size_t k = (size_t)(pos % 8);
        for (; k < 8 && i < len; k++, i++)
            buf[i] = (uint8_t)(x >> (8 * k));
    }
}
