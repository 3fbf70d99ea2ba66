/* A small stand-in for libFuzzer's main, so each fuzz target also runs under any compiler (the
 * gcc ASan/UBSan build of `make test`): replays every input of a corpus directory, then runs
 * a fixed count of deterministic pseudo-random mutations of them. Same seed, same inputs:
 * a failure reproduces with the same command.
 *
 *   fuzz_NAME CORPUS_DIR [MUTATIONS] [SEED]   replay + mutations (default 2000, seed 1)
 *   fuzz_NAME FILE                            runs one input (reproduce a crash) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

#define DRIVER_MAX_INPUT (64 * 1024)
#define MAX_FILES 4096

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob;

static uint64_t g_rng;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic and good enough to pick mutations. */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1DULL;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static int read_blob(const char *path, blob *b)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -errno;
    b->p = malloc(DRIVER_MAX_INPUT);
    if (!b->p) {
        fclose(f);
        return -ENOMEM;
    }
    b->n = fread(b->p, 1, DRIVER_MAX_INPUT, f);
    fclose(f);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the corpus in name order (so runs are the same on every machine). */
static size_t load_corpus(const char *dir, blob *out)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz driver: cannot open %s: %s\n", dir, strerror(errno));
        exit(2);
    }
    char *names[MAX_FILES];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_FILES) {
        if (e->d_name[0] == '.') continue;
        if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0) exit(2);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        if (read_blob(names[i], &out[got]) == 0) got++;
        free(names[i]);
    }
    return got;
}

static const uint8_t k_interesting[] = {0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x40};

/* One mutation of b (capacity DRIVER_MAX_INPUT), in the spirit of libFuzzer's: flip, set, insert,
 * erase, copy a range, splice with another input. */
static void mutate(blob *b, const blob *corpus, size_t n_corpus)
{
    switch (below(7)) {
    case 0: /* flip a bit */
        if (b->n) b->p[below(b->n)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* an interesting byte */
        if (b->n) b->p[below(b->n)] = k_interesting[below(sizeof k_interesting)];
        break;
    case 2: /* a random byte */
        if (b->n) b->p[below(b->n)] = (uint8_t)rnd();
        break;
    case 3: { /* insert random bytes */
        size_t k = 1 + below(8), at = below(b->n + 1);
        if (b->n + k > DRIVER_MAX_INPUT) break;
        memmove(b->p + at + k, b->p + at, b->n - at);
        for (size_t i = 0; i < k; i++)
            b->p[at + i] = (uint8_t)rnd();
        b->n += k;
        break;
    }
    case 4: { /* erase a range */
        if (!b->n) break;
        size_t at = below(b->n), k = 1 + below(b->n - at < 16 ? b->n - at : 16);
        memmove(b->p + at, b->p + at + k, b->n - at - k);
        b->n -= k;
        break;
    }
    case 5: { /* copy a range over another place */
        if (b->n < 2) break;
        size_t from = below(b->n), to = below(b->n), k = 1 + below(16);
        if (from + k > b->n) k = b->n - from;
        if (to + k > b->n) k = b->n - to;
        memmove(b->p + to, b->p + from, k);
        break;
    }
    default: { /* splice: our head, another input's tail */
        const blob *o = &corpus[below(n_corpus)];
        size_t at = below(b->n + 1), from = below(o->n + 1);
        size_t k = o->n - from;
        if (at + k > DRIVER_MAX_INPUT) k = DRIVER_MAX_INPUT - at;
        memcpy(b->p + at, o->p + from, k);
        b->n = at + k;
        break;
    }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS] [SEED] | %s FILE\n", argv[0], argv[0]);
        return 2;
    }
    struct stat st;
    if (stat(argv[1], &st) == 0 && S_ISREG(st.st_mode)) {
        blob b;
        if (read_blob(argv[1], &b) < 0) return 2;
        LLVMFuzzerTestOneInput(b.p, b.n);
        free(b.p);
        printf("fuzz driver: ran %s\n", argv[1]);
        return 0;
    }
    long mutations = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    g_rng = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    if (g_rng == 0) g_rng = 1;
    blob *corpus = calloc(MAX_FILES, sizeof *corpus);
    if (!corpus) return 2;
    size_t n = load_corpus(argv[1], corpus);
    if (n == 0) {
        fprintf(stderr, "fuzz driver: empty corpus %s\n", argv[1]);
        return 2;
    }
    for (size_t i = 0; i < n; i++)
        LLVMFuzzerTestOneInput(corpus[i].p, corpus[i].n);
    blob b = {malloc(DRIVER_MAX_INPUT), 0};
    if (!b.p) return 2;
    for (long i = 0; i < mutations; i++) {
        const blob *src = &corpus[below(n)];
        memcpy(b.p, src->p, src->n);
        b.n = src->n;
        for (size_t k = 1 + below(4); k > 0; k--)
            mutate(&b, corpus, n);
        LLVMFuzzerTestOneInput(b.p, b.n);
    }
    printf("fuzz driver: %zu corpus inputs and %ld mutations ran clean\n", n, mutations);
    free(b.p);
    for (size_t i = 0; i < n; i++)
        free(corpus[i].p);
    free(corpus);
    return 0;
}
