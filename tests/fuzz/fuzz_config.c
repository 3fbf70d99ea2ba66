/* Fuzz target: the option parser (common/config: ini file via libinih plus command-line
 * flags) and the metaserver's cluster.ini reader (meta_format_read). Input: a flags byte,
 * then records (see fuzz_util.h): the first is a config file, the others command-line
 * arguments. Flag bit 0 passes the file with --config; bit 1 reads it as cluster.ini
 * instead. Parsing must succeed or fail with -EINVAL and a message, never crash or leak;
 * cluster.ini parameters that read must pass meta_format_check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "fuzz_util.h"
#include "metaserver/meta_format.h"

#define MAX_ARGS 16

static const cfs_config_def k_defs[] = {{"listen", CFS_CFG_STRING, "127.0.0.1:7000", "address"},
                                        {"data-dir", CFS_CFG_LIST, NULL, "dirs"},
                                        {"chunk-size", CFS_CFG_SIZE, "64M", "size"},
                                        {"retries", CFS_CFG_INT, "3", "count"},
                                        {"sync", CFS_CFG_BOOL, "true", "flag"},
                                        {"name", CFS_CFG_STRING, NULL, "unset string"},
                                        {NULL, 0, NULL, NULL}};

static char *dup_bytes(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) fuzz_fail("out of memory");
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static void parse_options(const char *file, char **args, int nargs, bool with_file)
{
    char *argv[MAX_ARGS + 4];
    int argc = 0;
    argv[argc++] = (char *)"fuzz";
    if (with_file) {
        argv[argc++] = (char *)"--config";
        argv[argc++] = (char *)file;
    }
    for (int i = 0; i < nargs; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    cfs_config c;
    char err[256];
    int rc = cfs_config_parse(k_defs, argc, argv, &c, err, sizeof err);
    if (rc == 0) {
        (void)cfs_config_str(&c, "listen");
        (void)cfs_config_int(&c, "chunk-size");
        (void)cfs_config_bool(&c, "sync");
        char *const *items;
        size_t n = cfs_config_list(&c, "data-dir", &items);
        for (size_t i = 0; i < n; i++)
            if (!items[i]) fuzz_fail("NULL list item");
        cfs_config_free(&c);
    } else if (rc != -EINVAL && rc != -ENOMEM) {
        fuzz_fail("cfs_config_parse returned %d", rc);
    } else if (!err[0]) {
        fuzz_fail("refused without a message");
    }
    for (int i = 0; i < nargs; i++) {
        int64_t v;
        uint64_t u;
        cfs_parse_size(args[i], &v);
        meta_parse_size(args[i], &u);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    fuzz_in in = {data, size};
    uint8_t flags = 0;
    fuzz_take_u8(&in, &flags);
    const uint8_t *p = NULL;
    size_t len = 0;
    fuzz_take_record(&in, &p, &len);
    const char *dir = fuzz_fresh_dir();
    char path[4200];
    if (flags & 2) {
        snprintf(path, sizeof path, "%s/cluster.ini", dir);
        fuzz_write_file(path, p, len);
        meta_cluster_params cp;
        int rc = meta_format_read(dir, &cp);
        if (rc == 0 && meta_format_check(&cp) != 0) fuzz_fail("read parameters fail the check");
        if (rc != 0 && rc != -EINVAL) fuzz_fail("meta_format_read returned %d", rc);
    } else {
        snprintf(path, sizeof path, "%s/fuzz.ini", dir);
        fuzz_write_file(path, p, len);
        char *args[MAX_ARGS];
        int nargs = 0;
        while (nargs < MAX_ARGS && fuzz_take_record(&in, &p, &len))
            args[nargs++] = dup_bytes(p, len);
        parse_options(path, args, nargs, flags & 1);
        for (int i = 0; i < nargs; i++)
            free(args[i]);
    }
    fuzz_remove_dir();
    return 0;
}
