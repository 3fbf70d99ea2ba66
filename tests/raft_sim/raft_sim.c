/* raft_sim: runs the deterministic Raft simulator over a range of seeds.
 *   raft_sim [--seeds N] [--seed S] [--steps K] [--verbose]
 * Seeds S, S+1, ..., S+N-1 (any 64-bit numbers) each run K fault steps plus the liveness
 * phase. A failure prints the violated property and the command that replays it. The last
 * line is "sim: N passed, M failed"; the exit status is nonzero on any failure. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/raft_sim/sim.h"

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != 0 || s[0] == '-') return -EINVAL;
    *out = v;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: raft_sim [--seeds N] [--seed S] [--steps K] [--verbose]\n");
}

int main(int argc, char **argv)
{
    uint64_t seeds = 100, seed = 1, steps = 2000;
    setvbuf(stdout, NULL, _IOLBF, 0); /* failures show up at once in long runs */
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        uint64_t *dst = NULL;
        if (strcmp(argv[i], "--seeds") == 0)
            dst = &seeds;
        else if (strcmp(argv[i], "--seed") == 0)
            dst = &seed;
        else if (strcmp(argv[i], "--steps") == 0)
            dst = &steps;
        else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = true;
            continue;
        } else {
            usage();
            return 2;
        }
        if (i + 1 >= argc || parse_u64(argv[i + 1], dst) < 0) {
            fprintf(stderr, "raft_sim: %s needs a number\n", argv[i]);
            usage();
            return 2;
        }
        i++;
    }
    if (steps > 10000000 || seeds == 0) {
        fprintf(stderr, "raft_sim: --seeds must be > 0 and --steps <= 10000000\n");
        return 2;
    }
    uint64_t passed = 0, failed = 0;
    uint64_t elections = 0, installs = 0, crashes = 0, confs = 0, transfers = 0, reads = 0,
             lease_reads = 0, writes = 0;
    sim *s = malloc(sizeof(*s));
    if (s == NULL) {
        fprintf(stderr, "raft_sim: out of memory\n");
        return 2;
    }
    for (uint64_t k = 0; k < seeds; k++) {
        uint64_t sd = seed + k;
        if (sim_run(sd, (int)steps, verbose, s) == 0) {
            passed++;
        } else {
            failed++;
            printf("FAIL seed %" PRIu64 ": %s\n", sd, s->why);
            printf("  replay: raft_sim --seeds 1 --seed %" PRIu64 " --steps %" PRIu64
                   " --verbose\n",
                   sd, steps);
        }
        elections += s->n_elections;
        installs += s->n_snap_installs;
        crashes += s->n_crashes;
        confs += s->n_conf_changes;
        transfers += s->n_transfers;
        reads += s->n_reads;
        lease_reads += s->n_lease_reads;
        writes += s->n_writes;
        sim_free(s);
    }
    free(s);
    printf("sim: totals: %" PRIu64 " elections, %" PRIu64 " crashes, %" PRIu64
           " snapshot installs, %" PRIu64 " membership changes, %" PRIu64 " transfers, %" PRIu64
           " writes proposed, %" PRIu64 " reads served (%" PRIu64 " by lease)\n",
           elections, crashes, installs, confs, transfers, writes, reads, lease_reads);
    printf("sim: %" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    return failed ? 1 : 0;
}
