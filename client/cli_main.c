/* `chunkfs`: the command line client. Finds the cluster, dispatches to a command. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/cli.h"
#include "common/log.h"
#include "common/rpc.h"

int cmd_admin(cli_ctx *ctx, int argc, char **argv); /* cli_heal.c */

static const cli_command commands[] = {
    {"put", cmd_put, "put [-r] [-f] [--no-verify] SRC... DST",
     "Copy local files (or '-' for stdin) into the cluster.",
     "  -r           copy directories recursively\n"
     "  -f           overwrite existing files\n"
     "  --no-verify  skip reading the file back to compare its SHA-256\n"
     "Data goes to DST/.NAME._COPYING_ first and is renamed into place once it is\n"
     "committed and its read-back SHA-256 equals the SHA-256 of what was sent. The\n"
     "digest is stored in the xattr user.chunkfs.sha256 for `get` to check.\n"},
    {"get", cmd_get, "get [-r] [-f] SRC... DST", "Copy files from the cluster to local disk.",
     "  -r  copy directories recursively\n"
     "  -f  overwrite existing local files\n"
     "The SHA-256 of the bytes received is compared with the one `put` recorded\n"
     "(xattr user.chunkfs.sha256) when the file has not changed since.\n"},
    {"cat", cmd_cat, "cat PATH...", "Write files to standard output.", ""},
    {"cp", cmd_cp, "cp [-f] SRC DST", "Copy a file inside the cluster.",
     "  -f  overwrite an existing DST file\n"},
    {"ls", cmd_ls, "ls [-l] [-R] [-h] [-d] [--json] [PATH...]", "List directories.",
     "  -l      long format: mode, links, owner, group, size, mtime, name\n"
     "  -R      recurse into subdirectories\n"
     "  -h      human-readable sizes (with -l)\n"
     "  -d      list directories themselves, not their contents\n"
     "  --json  JSON output (implies -l)\n"},
    {"stat", cmd_stat, "stat [--json] PATH...", "Show file attributes.", ""},
    {"mkdir", cmd_mkdir, "mkdir [-p] [-m MODE] PATH...", "Create directories.",
     "  -p       create parents, no error if it exists\n"
     "  -m MODE  octal permission bits (default 0777 minus umask)\n"},
    {"rm", cmd_rm, "rm [-r] [-f] PATH...", "Remove files (and directories with -r).",
     "  -r  remove directories and their contents\n"
     "  -f  ignore missing paths\n"},
    {"mv", cmd_mv, "mv SRC... DST", "Move or rename inside the cluster.", ""},
    {"ln", cmd_ln, "ln [-s] TARGET LINK", "Make a hard link, or a symbolic link with -s.", ""},
    {"chmod", cmd_chmod, "chmod [-R] MODE PATH...", "Change permission bits (octal MODE).",
     "  -R  recursive\n"},
    {"chown", cmd_chown, "chown [-R] OWNER[:GROUP] PATH...", "Change owner and/or group.",
     "  -R  recursive\n"},
    {"setrep", cmd_setrep, "setrep [-R] N PATH", "Set the replication goal.",
     "  -R  for every file under a directory\n"},
    {"fileinfo", cmd_fileinfo, "fileinfo [--json] PATH",
     "Show each chunk of a file: id, version, length, replicas.", ""},
    {"df", cmd_df, "df [-h] [--json]", "Capacity, used and free per chunkserver and in total.",
     "  -h  human-readable sizes\n"},
    {"status", cmd_status, "status [--json]",
     "Metaservers (role, term, commit index, reachable, http), chunkservers (with http), "
     "chunk health and healing progress.",
     ""},
    {"fsck", cmd_fsck, "fsck [--json]",
     "Check chunk health; exit status 1 when chunks are missing or corrupt.", ""},
    {"admin", cmd_admin, "admin SUBCOMMAND ARGS",
     "Decommission chunkservers, metaserver membership, healing progress.",
     "  decommission SERVER      drain a chunkserver (id or address)\n"
     "  recommission SERVER      undo decommission\n"
     "  drain-status SERVER      replicas left; exit 0 once it can be stopped\n"
     "  progress [--json]        repair, trim, drain, rebalance and gc figures\n"
     "  meta add ID=HOST:PORT    add a metaserver (started with --join)\n"
     "  meta remove ID           remove a metaserver\n"
     "  meta transfer-leader ID  hand leadership to another metaserver\n"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void main_usage(FILE *out)
{
    fprintf(out, "usage: chunkfs [--meta ADDRS] [--secret-file PATH] [--tls-ca PATH\n"
                 "               [--tls-cert PATH --tls-key PATH]] COMMAND [ARGS]\n\n"
                 "The cluster is taken from --meta, else $CHUNKFS_META, else\n"
                 "~/.config/chunkfs/client.conf, else /etc/chunkfs/client.conf\n"
                 "(a line `meta = host:port,host:port,...`).\n"
                 "The cluster secret (mode 0600) from --secret-file, else $CHUNKFS_SECRET_FILE;\n"
                 "TLS from --tls-ca (and a client certificate for mutual TLS), else\n"
                 "$CHUNKFS_TLS_CA, $CHUNKFS_TLS_CERT, $CHUNKFS_TLS_KEY.\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'chunkfs COMMAND --help' for a command's options.\n"
                 "Exit status: 0 success, 1 error, 2 usage error.\n");
}

/* Reads `meta = ...` from a config file; malloc'd value or NULL. */
static char *config_meta(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[4096];
    char *val = NULL;
    while (!val && fgets(line, sizeof(line), f)) {
        char *p = line + strspn(line, " \t");
        if (strncmp(p, "meta", 4) != 0) continue;
        p += 4;
        p += strspn(p, " \t");
        if (*p != '=') continue;
        p++;
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t\r\n#");
        if (n) val = strndup(p, n);
    }
    fclose(f);
    return val;
}

static char *find_meta(const char *flag)
{
    if (flag) return strdup(flag);
    const char *env = getenv("CHUNKFS_META");
    if (env && *env) return strdup(env);
    const char *home = getenv("HOME");
    if (home) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/.config/chunkfs/client.conf", home);
        char *v = config_meta(path);
        if (v) return v;
    }
    return config_meta("/etc/chunkfs/client.conf");
}

int main(int argc, char **argv)
{
    cfs_log_set_component("cli");
    cfs_log_set_level(CFS_LOG_ERROR);
    const char *lvl = getenv("CHUNKFS_LOG");
    enum cfs_log_level l;
    if (lvl && cfs_log_parse_level(lvl, &l) == 0) cfs_log_set_level(l);

    /* Global options come before the command: "--name VALUE" or "--name=VALUE". */
    const char *meta_flag = NULL;
    const char *secret = NULL, *tls_ca = NULL, *tls_cert = NULL, *tls_key = NULL;
    struct {
        const char *name;
        const char **dst;
    } globals[] = {{"--meta", &meta_flag},
                   {"--secret-file", &secret},
                   {"--tls-ca", &tls_ca},
                   {"--tls-cert", &tls_cert},
                   {"--tls-key", &tls_key}};
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        int taken = 0;
        for (size_t g = 0; g < sizeof globals / sizeof globals[0] && !taken; g++) {
            size_t n = strlen(globals[g].name);
            if (strcmp(argv[i], globals[g].name) == 0 && i + 1 < argc) {
                *globals[g].dst = argv[i + 1];
                taken = 2;
            } else if (strncmp(argv[i], globals[g].name, n) == 0 && argv[i][n] == '=') {
                *globals[g].dst = argv[i] + n + 1;
                taken = 1;
            }
        }
        if (taken) {
            i += taken;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            main_usage(stdout);
            return CLI_OK;
        } else {
            fprintf(stderr, "chunkfs: unknown option '%s'\n", argv[i]);
            main_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        main_usage(stderr);
        return CLI_USAGE;
    }
    const cli_command *cmd = NULL;
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (strcmp(commands[k].name, argv[i]) == 0) cmd = &commands[k];
    if (!cmd) {
        fprintf(stderr, "chunkfs: unknown command '%s'\n", argv[i]);
        main_usage(stderr);
        return CLI_USAGE;
    }
    cli_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.cmd = cmd->name;
    ctx.command = cmd;
    ctx.secret_file = secret;
    ctx.tls_ca = tls_ca;
    ctx.tls_cert = tls_cert;
    ctx.tls_key = tls_key;
    cfs_cred_self(&ctx.cred);
    mode_t um = umask(022);
    umask(um);
    ctx.umask = (uint32_t)um;
    if (cli_wants_help(&ctx, argc - i, argv + i)) return CLI_OK;
    cli_install_signals();
    char *meta = find_meta(meta_flag);
    ctx.meta = meta;
    int rc = cmd->run(&ctx, argc - i, argv + i);
    if (ctx.fs) cfs_disconnect(ctx.fs);
    free(meta);
    return rc;
}
