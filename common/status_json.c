/* One JSON rendering of ClusterStatusResp (see status_json.h). */
#include "common/status_json.h"

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void write_metaserver(FILE *f, const Chunkfs__MetaserverStatus *m)
{
    fprintf(f, "{\"id\": %llu, \"address\": ", (unsigned long long)m->id);
    json_str(f, m->address);
    fprintf(f, ", \"role\": ");
    json_str(f, m->role);
    fprintf(f,
            ", \"term\": %llu, \"commit_index\": %llu, \"applied_index\": %llu, "
            "\"match_index\": %llu, \"reachable\": %s, \"http\": ",
            (unsigned long long)m->term, (unsigned long long)m->commit_index,
            (unsigned long long)m->applied_index, (unsigned long long)m->match_index,
            m->reachable ? "true" : "false");
    json_str(f, m->http);
    fputc('}', f);
}

static void write_chunkserver(FILE *f, const Chunkfs__ChunkserverStatus *cs)
{
    fprintf(f, "{\"id\": %llu, \"address\": ", (unsigned long long)cs->id);
    json_str(f, cs->address);
    fprintf(f, ", \"state\": ");
    json_str(f, cs->state);
    fprintf(f, ", \"domain\": ");
    json_str(f, cs->domain);
    fprintf(f,
            ", \"capacity\": %llu, \"used\": %llu, \"chunks\": %llu, "
            "\"last_heartbeat_ms\": %lld, \"http\": ",
            (unsigned long long)cs->capacity, (unsigned long long)cs->used,
            (unsigned long long)cs->chunks, (long long)cs->last_heartbeat_ms);
    json_str(f, cs->http);
    fputc('}', f);
}

void cfs_status_json_write(FILE *f, const Chunkfs__ClusterStatusResp *st, uint64_t served_by,
                           const char *via)
{
    fprintf(f, "{\"cluster_id\": ");
    json_str(f, st->cluster_id);
    fprintf(f, ", \"leader_id\": %llu", (unsigned long long)st->leader_id);
    if (via) {
        fprintf(f, ", \"served_by\": %llu, \"via\": ", (unsigned long long)served_by);
        json_str(f, via);
    }
    fprintf(f, ", \"metaservers\": [");
    for (size_t i = 0; i < st->n_metaservers; i++) {
        fprintf(f, "%s\n  ", i ? "," : "");
        write_metaserver(f, st->metaservers[i]);
    }
    fprintf(f, "%s], \"chunkservers\": [", st->n_metaservers ? "\n" : "");
    for (size_t i = 0; i < st->n_chunkservers; i++) {
        fprintf(f, "%s\n  ", i ? "," : "");
        write_chunkserver(f, st->chunkservers[i]);
    }
    fprintf(f,
            "%s], \"files\": %llu, \"dirs\": %llu, \"chunks\": %llu, "
            "\"under_replicated\": %llu, \"missing\": %llu, \"corrupt\": %llu",
            st->n_chunkservers ? "\n" : "", (unsigned long long)st->files,
            (unsigned long long)st->dirs, (unsigned long long)st->chunks,
            (unsigned long long)st->under_replicated, (unsigned long long)st->missing,
            (unsigned long long)st->corrupt);
    /* Self-healing progress (the leader's soft state since it became leader). */
    fprintf(f,
            ", \"repair_queued\": %llu, \"repair_inflight\": %llu, \"repair_done\": %llu, "
            "\"repair_scheduled\": %llu, \"trimmed\": %llu, \"draining_replicas\": %llu, "
            "\"rebalance_inflight\": %llu, \"rebalance_done\": %llu, \"balanced\": %s, "
            "\"gc_waiting\": %llu, \"repair_per_min\": %.1f, \"rebalance_per_min\": %.1f}\n",
            (unsigned long long)st->repair_queued, (unsigned long long)st->repair_inflight,
            (unsigned long long)st->repair_done, (unsigned long long)st->repair_scheduled,
            (unsigned long long)st->trimmed, (unsigned long long)st->draining_replicas,
            (unsigned long long)st->rebalance_inflight, (unsigned long long)st->rebalance_done,
            st->balanced ? "true" : "false", (unsigned long long)st->gc_waiting, st->repair_per_min,
            st->rebalance_per_min);
}
