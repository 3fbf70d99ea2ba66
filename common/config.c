#include "common/config.h"

#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where a value came from, for precedence and for list replacement. */
enum source { SRC_DEFAULT, SRC_FILE, SRC_ARGV };

struct parse_ctx {
    cfs_config *cfg;
    enum source *src; /* per option: where its current value came from */
    char *err;
    size_t errlen;
    int failed;
    const char *file; /* for messages */
};

static void set_err(struct parse_ctx *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct parse_ctx *p, const char *fmt, ...)
{
    if (p->failed) return; /* keep the first error */
    p->failed = 1;
    if (!p->err || p->errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
}

int cfs_parse_size(const char *s, int64_t *out)
{
    if (!s || !*s) return -EINVAL;
    const char *p = s;
    if (!isdigit((unsigned char)*p)) return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno) return -EINVAL;
    uint64_t mult = 1;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K':
            mult = 1ull << 10;
            break;
        case 'M':
            mult = 1ull << 20;
            break;
        case 'G':
            mult = 1ull << 30;
            break;
        case 'T':
            mult = 1ull << 40;
            break;
        default:
            return -EINVAL;
        }
        end++;
        if (strcasecmp(end, "") != 0 && strcasecmp(end, "B") != 0 && strcasecmp(end, "iB") != 0)
            return -EINVAL;
    }
    if (v > (unsigned long long)INT64_MAX / mult) return -EINVAL;
    *out = (int64_t)(v * mult);
    return 0;
}

static int parse_int(const char *s, int64_t *out)
{
    if (!s || !*s) return -EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || isspace((unsigned char)*s)) return -EINVAL;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int64_t *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* Option names compare with '_' and '-' treated alike. */
static int name_eq(const char *a, const char *b, size_t blen)
{
    size_t i = 0;
    for (; i < blen && a[i]; i++) {
        char x = a[i] == '_' ? '-' : a[i];
        char y = b[i] == '_' ? '-' : b[i];
        if (x != y) return 0;
    }
    return i == blen && a[i] == 0;
}

static int find_def(const cfs_config *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->ndefs; i++)
        if (name_eq(c->defs[i].name, name, len)) return (int)i;
    return -1;
}

static void free_list(cfs_config_value *v)
{
    for (size_t i = 0; i < v->nlist; i++)
        free(v->list[i]);
    free(v->list);
    v->list = NULL;
    v->nlist = 0;
}

static const char *type_word(enum cfs_config_type t)
{
    switch (t) {
    case CFS_CFG_INT:
        return "an integer";
    case CFS_CFG_SIZE:
        return "a size (e.g. 64M)";
    case CFS_CFG_BOOL:
        return "true or false";
    default:
        return "a string";
    }
}

/* Stores `val` into option `i` from source `src`. `where` names the origin for messages
 * ("--name" or "file:line"). */
static int store(struct parse_ctx *p, int i, const char *val, enum source src, const char *where)
{
    const cfs_config_def *d = &p->cfg->defs[i];
    cfs_config_value *v = &p->cfg->values[i];
    int64_t num = 0;
    int rc = 0;
    switch (d->type) {
    case CFS_CFG_INT:
        rc = parse_int(val, &num);
        break;
    case CFS_CFG_SIZE:
        rc = cfs_parse_size(val, &num);
        break;
    case CFS_CFG_BOOL:
        rc = parse_bool(val, &num);
        break;
    case CFS_CFG_STRING:
    case CFS_CFG_LIST:
        break;
    }
    if (rc < 0) {
        set_err(p, "%s: option '%s' wants %s, got '%s'", where, d->name, type_word(d->type), val);
        return -EINVAL;
    }
    if (d->type == CFS_CFG_LIST) {
        /* The first command-line value replaces what the file (or default) gave. */
        if (p->src[i] != src) free_list(v);
        char **nl = realloc(v->list, (v->nlist + 1) * sizeof *nl);
        if (!nl) return -ENOMEM;
        v->list = nl;
        if (!(v->list[v->nlist] = strdup(val))) return -ENOMEM;
        v->nlist++;
    } else if (d->type == CFS_CFG_STRING) {
        char *s = strdup(val);
        if (!s) return -ENOMEM;
        free(v->str);
        v->str = s;
    } else {
        v->num = num;
    }
    p->src[i] = src;
    if (src != SRC_DEFAULT) v->set = 1;
    return 0;
}

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    (void)section;
    struct parse_ctx *p = user;
    if (p->failed) return 0;
    int i = find_def(p->cfg, name, strlen(name));
    if (i < 0) {
        set_err(p, "%s: unknown key '%s'", p->file, name);
        return 0;
    }
    if (strcmp(p->cfg->defs[i].name, "config") == 0) {
        set_err(p, "%s: 'config' cannot be set inside a config file", p->file);
        return 0;
    }
    int rc = store(p, i, value ? value : "", SRC_FILE, p->file);
    if (rc == -ENOMEM) set_err(p, "out of memory");
    return rc == 0;
}

static int load_file(struct parse_ctx *p, const char *path)
{
    p->file = path;
    int line = ini_parse(path, ini_cb, p);
    if (line == 0 && !p->failed) return 0;
    if (line < 0) {
        set_err(p, "%s: cannot read config file: %s", path,
                line == -1 ? strerror(errno ? errno : ENOENT) : "out of memory");
        return -EINVAL;
    }
    if (p->failed && p->err && p->errlen) {
        /* Insert the line number inih reported after the file name. */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", p->err);
        size_t plen = strlen(path);
        const char *rest = strncmp(tmp, path, plen) == 0 ? tmp + plen : tmp;
        snprintf(p->err, p->errlen, "%s:%d%s", path, line, rest);
    } else {
        set_err(p, "%s:%d: syntax error (expected 'name = value' or '[section]')", path, line);
    }
    return -EINVAL;
}

void cfs_config_free(cfs_config *c)
{
    if (!c) return;
    for (size_t i = 0; c->values && i < c->ndefs; i++) {
        free(c->values[i].str);
        free_list(&c->values[i]);
    }
    free(c->values);
    free(c->positional);
    free(c->config_file);
    memset(c, 0, sizeof *c);
}

int cfs_config_parse(const cfs_config_def *defs, int argc, char **argv, cfs_config *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = 0;
    size_t n = 0;
    while (defs[n].name)
        n++;
    out->defs = defs;
    out->ndefs = n;
    out->values = calloc(n ? n : 1, sizeof *out->values);
    enum source *src = calloc(n ? n : 1, sizeof *src);
    out->positional = calloc((size_t)(argc > 0 ? argc : 1), sizeof *out->positional);
    struct parse_ctx p = {out, src, err, errlen, 0, NULL};
    int rc = 0;
    if (!out->values || !src || !out->positional) {
        set_err(&p, "out of memory");
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (defs[i].def && store(&p, (int)i, defs[i].def, SRC_DEFAULT, "default") < 0) {
            rc = -EINVAL;
            goto done;
        }
    }
    /* First pass: --config and --help, so the file is applied before any flag. */
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        if (strcmp(s, "--") == 0) break;
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) out->help = 1;
        const char *file = NULL;
        if (strcmp(s, "--config") == 0) {
            if (a + 1 >= argc) {
                set_err(&p, "option '--config' needs a value");
                rc = -EINVAL;
                goto done;
            }
            file = argv[++a];
        } else if (strncmp(s, "--config=", 9) == 0) {
            file = s + 9;
        } else if (strncmp(s, "--", 2) == 0 && !strchr(s, '=')) {
            /* Skip the value of a value-taking option so it is not read as a flag. */
            int i = find_def(out, s + 2, strlen(s + 2));
            if (i >= 0 && defs[i].type != CFS_CFG_BOOL) a++;
        }
        if (file) {
            free(out->config_file);
            if (!(out->config_file = strdup(file))) {
                rc = -ENOMEM;
                goto done;
            }
        }
    }
    if (out->config_file && (rc = load_file(&p, out->config_file)) < 0) goto done;
    /* Second pass: flags override the file. */
    int only_positional = 0;
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        if (only_positional || strncmp(s, "--", 2) != 0) {
            if (!only_positional && s[0] == '-' && s[1] != 0 && strcmp(s, "-h") != 0) {
                set_err(&p, "unknown option '%s'", s);
                rc = -EINVAL;
                goto done;
            }
            if (strcmp(s, "-h") != 0 || only_positional)
                out->positional[out->npositional++] = argv[a];
            continue;
        }
        if (strcmp(s, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(s, "--help") == 0) continue;
        const char *name = s + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (name_eq("config", name, nlen)) {
            if (!eq) a++;
            continue;
        }
        int i = find_def(out, name, nlen);
        const char *val = eq ? eq + 1 : NULL;
        if (i < 0 && !eq && strncmp(name, "no-", 3) == 0) {
            int j = find_def(out, name + 3, nlen - 3);
            if (j >= 0 && defs[j].type == CFS_CFG_BOOL) {
                i = j;
                val = "false";
            }
        }
        if (i < 0) {
            set_err(&p, "unknown option '--%.*s'", (int)nlen, name);
            rc = -EINVAL;
            goto done;
        }
        char where[96];
        snprintf(where, sizeof where, "--%s", defs[i].name);
        if (!val) {
            if (defs[i].type == CFS_CFG_BOOL) {
                val = "true";
            } else if (a + 1 < argc) {
                val = argv[++a];
            } else {
                set_err(&p, "option '--%s' needs a value", defs[i].name);
                rc = -EINVAL;
                goto done;
            }
        }
        if ((rc = store(&p, i, val, SRC_ARGV, where)) < 0) goto done;
    }
done:
    free(src);
    if (rc < 0) {
        if (rc == -ENOMEM) set_err(&p, "out of memory");
        cfs_config_free(out);
    }
    return rc;
}

static int lookup(const cfs_config *c, const char *name, int want_type, int alt_type)
{
    int i = find_def(c, name, strlen(name));
    if (i < 0 || ((int)c->defs[i].type != want_type && (int)c->defs[i].type != alt_type)) {
        LOG_ERROR("config: option '%s' is not declared with this type", name);
        abort();
    }
    return i;
}

const char *cfs_config_str(const cfs_config *c, const char *name)
{
    return c->values[lookup(c, name, CFS_CFG_STRING, -1)].str;
}

int64_t cfs_config_int(const cfs_config *c, const char *name)
{
    return c->values[lookup(c, name, CFS_CFG_INT, CFS_CFG_SIZE)].num;
}

int cfs_config_bool(const cfs_config *c, const char *name)
{
    return c->values[lookup(c, name, CFS_CFG_BOOL, -1)].num != 0;
}

size_t cfs_config_list(const cfs_config *c, const char *name, char *const **items)
{
    const cfs_config_value *v = &c->values[lookup(c, name, CFS_CFG_LIST, -1)];
    *items = v->list;
    return v->nlist;
}

int cfs_config_is_set(const cfs_config *c, const char *name)
{
    int i = find_def(c, name, strlen(name));
    if (i < 0) {
        LOG_ERROR("config: option '%s' is not declared", name);
        abort();
    }
    return c->values[i].set;
}

void cfs_config_usage(const cfs_config_def *defs, const char *prog, const char *synopsis, FILE *out)
{
    fprintf(out, "usage: %s %s\n\noptions:\n", prog, synopsis ? synopsis : "[options]");
    fprintf(out, "  %-28s %s\n", "--config FILE",
            "read options from an ini file (flags override it)");
    for (size_t i = 0; defs[i].name; i++) {
        const cfs_config_def *d = &defs[i];
        char flag[96];
        switch (d->type) {
        case CFS_CFG_BOOL:
            snprintf(flag, sizeof flag, "--[no-]%s", d->name);
            break;
        case CFS_CFG_INT:
            snprintf(flag, sizeof flag, "--%s N", d->name);
            break;
        case CFS_CFG_SIZE:
            snprintf(flag, sizeof flag, "--%s SIZE", d->name);
            break;
        case CFS_CFG_LIST:
            snprintf(flag, sizeof flag, "--%s VALUE...", d->name);
            break;
        default:
            snprintf(flag, sizeof flag, "--%s VALUE", d->name);
            break;
        }
        fprintf(out, "  %-28s %s", flag, d->help ? d->help : "");
        if (d->def) fprintf(out, " (default: %s)", d->def);
        if (d->type == CFS_CFG_LIST) fprintf(out, " [repeatable]");
        fputc('\n', out);
    }
    fprintf(out, "  %-28s %s\n", "--help", "show this help");
}
