#include "metaserver/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct server {
    reg_server_info info;
    reg_delete *dels; /* pending delete commands */
    size_t n_dels, cap_dels;
    reg_replicate *reps; /* pending replicate commands */
    size_t n_reps, cap_reps;
} server;

typedef struct repair {
    uint64_t chunk_id; /* 0 = free */
    uint64_t target;   /* server the copy goes to; 0 = not tracked */
    int64_t started_ms;
} repair;

/* One chunk's replicas: a tiny array (goal is typically 3). */
typedef struct chunk_entry {
    uint64_t chunk_id;
    uint32_t n, cap;
    reg_replica *reps;
    struct chunk_entry *next;
} chunk_entry;

typedef struct intent {
    uint64_t chunk_id; /* 0 = free slot */
    uint32_t n;
    uint64_t ids[REG_INTENT_MAX];
} intent;

struct registry {
    int64_t dead_timeout_ms;
    intent *intents; /* REG_INTENTS slots, a FIFO ring */
    repair *repairs; /* REG_REPAIRS slots */
    size_t intent_next;
    server **servers;
    size_t n_servers, cap_servers;
    chunk_entry **buckets;
    size_t n_buckets, n_chunks;
    uint64_t repairs_done; /* tracked copies confirmed by the target's report */
};

static size_t hash_chunk(uint64_t id, size_t n_buckets)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ULL;
    return (size_t)((x ^ (x >> 29)) & (n_buckets - 1));
}

registry *registry_create(int64_t dead_timeout_ms)
{
    if (dead_timeout_ms <= 0) return NULL;
    registry *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->dead_timeout_ms = dead_timeout_ms;
    r->n_buckets = 1024;
    r->buckets = calloc(r->n_buckets, sizeof(*r->buckets));
    r->intents = calloc(REG_INTENTS, sizeof(*r->intents));
    r->repairs = calloc(REG_REPAIRS, sizeof(*r->repairs));
    if (!r->buckets || !r->intents || !r->repairs) {
        free(r->buckets);
        free(r->intents);
        free(r->repairs);
        free(r);
        return NULL;
    }
    return r;
}

static void free_server(server *s)
{
    free(s->dels);
    free(s->reps);
    free(s);
}

void registry_destroy(registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_servers; i++)
        free_server(r->servers[i]);
    free(r->servers);
    for (size_t b = 0; b < r->n_buckets; b++) {
        chunk_entry *e = r->buckets[b];
        while (e) {
            chunk_entry *next = e->next;
            free(e->reps);
            free(e);
            e = next;
        }
    }
    free(r->buckets);
    free(r->intents);
    free(r->repairs);
    free(r);
}

static server *find_server(const registry *r, uint64_t id)
{
    for (size_t i = 0; i < r->n_servers; i++)
        if (r->servers[i]->info.id == id) return r->servers[i];
    return NULL;
}

static chunk_entry *find_chunk(const registry *r, uint64_t chunk_id)
{
    for (chunk_entry *e = r->buckets[hash_chunk(chunk_id, r->n_buckets)]; e; e = e->next)
        if (e->chunk_id == chunk_id) return e;
    return NULL;
}

static void unlink_chunk(registry *r, uint64_t chunk_id)
{
    chunk_entry **pp = &r->buckets[hash_chunk(chunk_id, r->n_buckets)];
    while (*pp) {
        if ((*pp)->chunk_id == chunk_id) {
            chunk_entry *dead = *pp;
            *pp = dead->next;
            free(dead->reps);
            free(dead);
            r->n_chunks--;
            return;
        }
        pp = &(*pp)->next;
    }
}

/* Drops every replica held by server id (it re-registered, died or was replaced), and the
 * tracked copies going to it: they will not be reported, and the chunk must not wait for
 * their timeout before it is repaired elsewhere. */
static void forget_server_replicas(registry *r, uint64_t id)
{
    for (size_t i = 0; i < REG_REPAIRS; i++)
        if (r->repairs[i].chunk_id && r->repairs[i].target == id) r->repairs[i] = (repair){0};
    for (size_t b = 0; b < r->n_buckets; b++) {
        chunk_entry **pp = &r->buckets[b];
        while (*pp) {
            chunk_entry *e = *pp;
            for (uint32_t i = 0; i < e->n;) {
                if (e->reps[i].server_id == id)
                    e->reps[i] = e->reps[--e->n];
                else
                    i++;
            }
            if (e->n == 0) {
                *pp = e->next;
                free(e->reps);
                free(e);
                r->n_chunks--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static void remove_server_at(registry *r, size_t i)
{
    forget_server_replicas(r, r->servers[i]->info.id);
    free_server(r->servers[i]);
    r->servers[i] = r->servers[--r->n_servers];
}

static int grow_buckets(registry *r)
{
    size_t nb = r->n_buckets * 2;
    chunk_entry **b = calloc(nb, sizeof(*b));
    if (!b) return -ENOMEM;
    for (size_t i = 0; i < r->n_buckets; i++) {
        chunk_entry *e = r->buckets[i];
        while (e) {
            chunk_entry *next = e->next;
            size_t h = hash_chunk(e->chunk_id, nb);
            e->next = b[h];
            b[h] = e;
            e = next;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->n_buckets = nb;
    return 0;
}

int registry_register(registry *r, uint64_t id, const char *address, const char *domain,
                      uint64_t capacity, uint64_t used, int64_t now_ms)
{
    if (id == 0 || !address || address[0] == '\0' || strlen(address) >= REG_ADDR_MAX ||
        (domain && strlen(domain) >= REG_DOMAIN_MAX))
        return -EINVAL;
    for (size_t i = 0; i < r->n_servers; i++) {
        if (r->servers[i]->info.id != id && strcmp(r->servers[i]->info.address, address) == 0) {
            remove_server_at(r, i);
            break; /* addresses are unique in the table */
        }
    }
    server *s = find_server(r, id);
    if (s) {
        forget_server_replicas(r, id);
        s->n_dels = 0;
        s->n_reps = 0;
    } else {
        if (r->n_servers == r->cap_servers) {
            size_t cap = r->cap_servers ? r->cap_servers * 2 : 8;
            server **v = realloc(r->servers, cap * sizeof(*v));
            if (!v) return -ENOMEM;
            r->servers = v;
            r->cap_servers = cap;
        }
        s = calloc(1, sizeof(*s));
        if (!s) return -ENOMEM;
        r->servers[r->n_servers++] = s;
    }
    bool draining = s->info.draining; /* decommission survives a re-registration */
    memset(&s->info, 0, sizeof(s->info));
    s->info.id = id;
    snprintf(s->info.address, sizeof(s->info.address), "%s", address);
    snprintf(s->info.domain, sizeof(s->info.domain), "%s", domain ? domain : "");
    s->info.capacity = capacity;
    s->info.used = used;
    s->info.last_heartbeat_ms = now_ms;
    s->info.alive = true;
    s->info.draining = draining;
    return 0;
}

int registry_heartbeat(registry *r, uint64_t id, uint64_t capacity, uint64_t used,
                       uint64_t chunk_count, uint32_t load, int64_t now_ms)
{
    server *s = find_server(r, id);
    if (!s || !s->info.alive) return -ENOENT;
    s->info.capacity = capacity;
    s->info.used = used;
    s->info.chunks = chunk_count;
    s->info.load = load;
    if (now_ms > s->info.last_heartbeat_ms) s->info.last_heartbeat_ms = now_ms;
    return 0;
}

int registry_add_replica(registry *r, uint64_t server_id, uint64_t chunk_id, uint64_t version,
                         uint64_t length)
{
    if (chunk_id == 0 || version == 0) return -EINVAL;
    server *s = find_server(r, server_id);
    if (!s || !s->info.alive) return -ENOENT;
    chunk_entry *e = find_chunk(r, chunk_id);
    if (!e) {
        if (r->n_chunks >= r->n_buckets && grow_buckets(r) != 0) return -ENOMEM;
        e = calloc(1, sizeof(*e));
        if (!e) return -ENOMEM;
        e->chunk_id = chunk_id;
        size_t h = hash_chunk(chunk_id, r->n_buckets);
        e->next = r->buckets[h];
        r->buckets[h] = e;
        r->n_chunks++;
    }
    /* A tracked copy is done once its target reports the chunk: it frees its throttle slot. */
    for (size_t i = 0; i < REG_REPAIRS; i++) {
        repair *p = &r->repairs[i];
        if (p->chunk_id == chunk_id && p->target != 0 && p->target == server_id) {
            *p = (repair){0};
            r->repairs_done++;
        }
    }
    for (uint32_t i = 0; i < e->n; i++) {
        if (e->reps[i].server_id == server_id) {
            e->reps[i].version = version;
            e->reps[i].length = length;
            return 0;
        }
    }
    if (e->n == e->cap) {
        uint32_t cap = e->cap ? e->cap * 2 : 3;
        reg_replica *v = realloc(e->reps, cap * sizeof(*v));
        if (!v) {
            if (e->n == 0) unlink_chunk(r, chunk_id);
            return -ENOMEM;
        }
        e->reps = v;
        e->cap = cap;
    }
    e->reps[e->n++] = (reg_replica){.server_id = server_id, .version = version, .length = length};
    return 0;
}

void registry_remove_replica(registry *r, uint64_t server_id, uint64_t chunk_id)
{
    chunk_entry *e = find_chunk(r, chunk_id);
    if (!e) return;
    for (uint32_t i = 0; i < e->n; i++) {
        if (e->reps[i].server_id == server_id) {
            e->reps[i] = e->reps[--e->n];
            break;
        }
    }
    if (e->n == 0) unlink_chunk(r, chunk_id);
}

int registry_report_done(registry *r, uint64_t server_id)
{
    server *s = find_server(r, server_id);
    if (!s || !s->info.alive) return -ENOENT;
    s->info.reported = true;
    return 0;
}

size_t registry_expire(registry *r, int64_t now_ms, uint64_t *dead_ids, size_t max)
{
    size_t died = 0;
    for (size_t i = 0; i < r->n_servers; i++) {
        server *s = r->servers[i];
        if (!s->info.alive || now_ms - s->info.last_heartbeat_ms <= r->dead_timeout_ms) continue;
        s->info.alive = false;
        s->info.reported = false;
        s->n_dels = 0;
        s->n_reps = 0;
        forget_server_replicas(r, s->info.id);
        if (dead_ids && died < max) dead_ids[died] = s->info.id;
        died++;
    }
    return died;
}

/* Orders locations: least loaded, then least used fraction, then id (stable answers). */
static bool loc_before(const server *a, const server *b)
{
    if (a->info.load != b->info.load) return a->info.load < b->info.load;
    unsigned __int128 l =
        (unsigned __int128)a->info.used * (b->info.capacity ? b->info.capacity : 1);
    unsigned __int128 rr =
        (unsigned __int128)b->info.used * (a->info.capacity ? a->info.capacity : 1);
    if (l != rr) return l < rr;
    return a->info.id < b->info.id;
}

size_t registry_locations(const registry *r, uint64_t chunk_id, uint64_t version, reg_location *out,
                          size_t max)
{
    const chunk_entry *e = find_chunk(r, chunk_id);
    if (!e || max == 0) return 0;
    const server *picked[64];
    size_t n = 0;
    for (uint32_t i = 0; i < e->n && n < 64; i++) {
        if (e->reps[i].version != version) continue;
        const server *s = find_server(r, e->reps[i].server_id);
        if (!s || !s->info.alive) continue;
        /* insertion sort: replica lists are tiny */
        size_t j = n++;
        while (j > 0 && loc_before(s, picked[j - 1])) {
            picked[j] = picked[j - 1];
            j--;
        }
        picked[j] = s;
    }
    if (n > max) n = max;
    for (size_t i = 0; i < n; i++) {
        out[i].server_id = picked[i]->info.id;
        memcpy(out[i].address, picked[i]->info.address, REG_ADDR_MAX);
        memcpy(out[i].domain, picked[i]->info.domain, REG_DOMAIN_MAX);
    }
    return n;
}

size_t registry_replicas(const registry *r, uint64_t chunk_id, reg_replica *out, size_t max)
{
    const chunk_entry *e = find_chunk(r, chunk_id);
    if (!e) return 0;
    size_t n = 0;
    for (uint32_t i = 0; i < e->n; i++) {
        if (n < max) out[n] = e->reps[i];
        n++;
    }
    return n;
}

void registry_foreach_replica(const registry *r,
                              void (*fn)(void *arg, uint64_t chunk_id, const reg_replica *rep),
                              void *arg)
{
    for (size_t b = 0; b < r->n_buckets; b++)
        for (const chunk_entry *e = r->buckets[b]; e; e = e->next)
            for (uint32_t i = 0; i < e->n; i++)
                fn(arg, e->chunk_id, &e->reps[i]);
}

int registry_set_draining(registry *r, uint64_t id, bool draining)
{
    server *s = find_server(r, id);
    if (!s) return -ENOENT;
    s->info.draining = draining;
    return 0;
}

int registry_get_server(const registry *r, uint64_t id, reg_server_info *out)
{
    const server *s = find_server(r, id);
    if (!s) return -ENOENT;
    *out = s->info;
    return 0;
}

int registry_set_http(registry *r, uint64_t id, const char *http)
{
    if (!http || strlen(http) >= REG_ADDR_MAX) return -EINVAL;
    server *s = find_server(r, id);
    if (!s) return -ENOENT;
    snprintf(s->info.http, sizeof(s->info.http), "%s", http);
    return 0;
}

size_t registry_list_servers(const registry *r, reg_server_info *out, size_t max)
{
    for (size_t i = 0; i < r->n_servers && i < max; i++)
        out[i] = r->servers[i]->info;
    return r->n_servers;
}

size_t registry_server_count(const registry *r)
{
    return r->n_servers;
}

size_t registry_candidates(const registry *r, placement_candidate *out, size_t max)
{
    for (size_t i = 0; i < r->n_servers && i < max; i++) {
        const reg_server_info *s = &r->servers[i]->info;
        out[i] = (placement_candidate){.id = s->id,
                                       .domain = s->domain,
                                       .capacity = s->capacity,
                                       .used = s->used,
                                       .alive = s->alive,
                                       .draining = s->draining};
    }
    return r->n_servers;
}

void registry_note_allocation(registry *r, const uint64_t *ids, size_t n, uint64_t bytes)
{
    for (size_t i = 0; i < n; i++) {
        server *s = find_server(r, ids[i]);
        if (!s) continue;
        s->info.used = s->info.used > UINT64_MAX - bytes ? UINT64_MAX : s->info.used + bytes;
    }
}

int registry_queue_delete(registry *r, uint64_t server_id, uint64_t chunk_id, uint64_t version)
{
    server *s = find_server(r, server_id);
    if (!s || !s->info.alive) return -ENOENT;
    if (s->n_dels == s->cap_dels) {
        size_t cap = s->cap_dels ? s->cap_dels * 2 : 16;
        reg_delete *v = realloc(s->dels, cap * sizeof(*v));
        if (!v) return -ENOMEM;
        s->dels = v;
        s->cap_dels = cap;
    }
    s->dels[s->n_dels++] = (reg_delete){.chunk_id = chunk_id, .version = version};
    chunk_entry *e = find_chunk(r, chunk_id);
    if (e) {
        for (uint32_t i = 0; i < e->n; i++) {
            if (e->reps[i].server_id == server_id &&
                (version == 0 || e->reps[i].version == version)) {
                registry_remove_replica(r, server_id, chunk_id);
                break;
            }
        }
    }
    return 0;
}

size_t registry_take_deletes(registry *r, uint64_t server_id, reg_delete *out, size_t max)
{
    server *s = find_server(r, server_id);
    if (!s || s->n_dels == 0) return 0;
    size_t n = s->n_dels < max ? s->n_dels : max;
    memcpy(out, s->dels, n * sizeof(*out));
    memmove(s->dels, s->dels + n, (s->n_dels - n) * sizeof(*out));
    s->n_dels -= n;
    return n;
}

size_t registry_pending_deletes(const registry *r, uint64_t server_id)
{
    const server *s = find_server(r, server_id);
    return s ? s->n_dels : 0;
}

void registry_totals(const registry *r, uint64_t *capacity, uint64_t *used)
{
    uint64_t c = 0, u = 0;
    for (size_t i = 0; i < r->n_servers; i++) {
        const reg_server_info *s = &r->servers[i]->info;
        if (!s->alive) continue;
        c += s->capacity;
        u += s->used;
    }
    *capacity = c;
    *used = u;
}

void registry_set_intent(registry *r, uint64_t chunk_id, const uint64_t *ids, size_t n)
{
    if (chunk_id == 0) return;
    if (n > REG_INTENT_MAX) n = REG_INTENT_MAX;
    intent *slot = NULL;
    for (size_t i = 0; i < REG_INTENTS && !slot; i++)
        if (r->intents[i].chunk_id == chunk_id) slot = &r->intents[i];
    if (!slot) {
        slot = &r->intents[r->intent_next];
        r->intent_next = (r->intent_next + 1) % REG_INTENTS;
    }
    slot->chunk_id = chunk_id;
    slot->n = (uint32_t)n;
    memcpy(slot->ids, ids, n * sizeof(*ids));
}

size_t registry_get_intent(const registry *r, uint64_t chunk_id, uint64_t *ids, size_t max)
{
    if (chunk_id == 0) return 0;
    for (size_t i = 0; i < REG_INTENTS; i++) {
        const intent *it = &r->intents[i];
        if (it->chunk_id != chunk_id) continue;
        size_t n = it->n < max ? it->n : max;
        memcpy(ids, it->ids, n * sizeof(*ids));
        return n;
    }
    return 0;
}

int registry_queue_replicate(registry *r, uint64_t server_id, uint64_t chunk_id, uint64_t version,
                             const char *source)
{
    if (!source || !*source || strlen(source) >= REG_ADDR_MAX || chunk_id == 0 || version == 0)
        return -EINVAL;
    server *s = find_server(r, server_id);
    if (!s || !s->info.alive) return -ENOENT;
    if (s->n_reps == s->cap_reps) {
        size_t cap = s->cap_reps ? s->cap_reps * 2 : 8;
        reg_replicate *v = realloc(s->reps, cap * sizeof(*v));
        if (!v) return -ENOMEM;
        s->reps = v;
        s->cap_reps = cap;
    }
    reg_replicate *c = &s->reps[s->n_reps++];
    c->chunk_id = chunk_id;
    c->version = version;
    snprintf(c->source, sizeof(c->source), "%s", source);
    return 0;
}

size_t registry_take_replicates(registry *r, uint64_t server_id, reg_replicate *out, size_t max)
{
    server *s = find_server(r, server_id);
    if (!s || s->n_reps == 0) return 0;
    size_t n = s->n_reps < max ? s->n_reps : max;
    memcpy(out, s->reps, n * sizeof(*out));
    memmove(s->reps, s->reps + n, (s->n_reps - n) * sizeof(*out));
    s->n_reps -= n;
    return n;
}

bool registry_repair_begin(registry *r, uint64_t chunk_id, int64_t now_ms, int64_t timeout_ms)
{
    return registry_repair_start(r, chunk_id, 0, now_ms, timeout_ms);
}

bool registry_repair_start(registry *r, uint64_t chunk_id, uint64_t target, int64_t now_ms,
                           int64_t timeout_ms)
{
    repair *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < REG_REPAIRS; i++) {
        repair *p = &r->repairs[i];
        if (p->chunk_id == chunk_id && now_ms - p->started_ms < timeout_ms) return false;
        if (p->chunk_id == chunk_id || p->chunk_id == 0) {
            if (!free_slot || p->chunk_id == chunk_id) free_slot = p;
        } else if (!oldest || p->started_ms < oldest->started_ms) {
            oldest = p;
        }
    }
    if (!free_slot) {
        if (!oldest || now_ms - oldest->started_ms < timeout_ms) return false;
        free_slot = oldest;
    }
    free_slot->chunk_id = chunk_id;
    free_slot->target = target;
    free_slot->started_ms = now_ms;
    return true;
}

size_t registry_repairs_inflight(const registry *r, uint64_t target, int64_t now_ms,
                                 int64_t timeout_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < REG_REPAIRS; i++) {
        const repair *p = &r->repairs[i];
        if (p->chunk_id == 0 || now_ms - p->started_ms >= timeout_ms) continue;
        if (target == 0 || p->target == target) n++;
    }
    return n;
}

bool registry_repair_pending(const registry *r, uint64_t chunk_id, int64_t now_ms,
                             int64_t timeout_ms)
{
    for (size_t i = 0; i < REG_REPAIRS; i++) {
        const repair *p = &r->repairs[i];
        if (p->chunk_id == chunk_id && now_ms - p->started_ms < timeout_ms) return true;
    }
    return false;
}

void registry_repair_cancel(registry *r, uint64_t chunk_id)
{
    for (size_t i = 0; i < REG_REPAIRS; i++)
        if (r->repairs[i].chunk_id == chunk_id) r->repairs[i] = (repair){0};
}

uint64_t registry_repairs_done(const registry *r)
{
    return r->repairs_done;
}
