/* mount.chunkfs: the mount(8) helper, so `mount -t chunkfs META_ADDRS /mnt -o opts` and
 * /etc/fstab lines ("127.0.0.1:9000,127.0.0.1:9001 /mnt chunkfs allow_other,_netdev 0 0")
 * work. mount(8) calls
 *     mount.chunkfs SPEC DIR [-sfnv] [-N ns] [-o OPTIONS] [-t chunkfs]
 * and this execs  chunkfs-mount -o OPTIONS' SPEC DIR  where OPTIONS' drops what only mount(8)
 * or fstab understand (defaults, auto, noauto, user, users, nofail, _netdev, x-*, comment=*).
 * chunkfs-mount detaches once the mount is up, so the exit status is the mount's. -f (fake)
 * does everything but the mount; -v prints the command. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool dropped(const char *opt)
{
    static const char *const only_mount[] = {"defaults", "auto",  "noauto", "user",   "users",
                                             "nouser",   "owner", "group",  "nofail", "_netdev",
                                             "rw",       "sw",    "xx"};
    for (size_t i = 0; i < sizeof only_mount / sizeof only_mount[0]; i++)
        if (strcmp(opt, only_mount[i]) == 0) return true;
    return strncmp(opt, "x-", 2) == 0 || strncmp(opt, "comment=", 8) == 0;
}

/* Appends the kept options of `in` (comma separated) to `out` (capacity cap). */
static int filter_opts(const char *in, char *out, size_t cap)
{
    char *copy = strdup(in), *save = NULL;
    if (!copy) return -ENOMEM;
    for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        if (dropped(o)) continue;
        size_t len = strlen(out);
        if (len + strlen(o) + 2 > cap) {
            free(copy);
            return -E2BIG;
        }
        if (len) strcat(out, ",");
        strcat(out, o);
    }
    free(copy);
    return 0;
}

/* chunkfs-mount next to this binary (build tree, /usr/sbin), else from PATH. */
static void find_mounter(char *path, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        snprintf(path, cap, "%s/chunkfs-mount", dirname(self));
        if (access(path, X_OK) == 0) return;
    }
    snprintf(path, cap, "chunkfs-mount");
}

int main(int argc, char **argv)
{
    const char *spec = NULL, *dir = NULL;
    char opts[8192] = "";
    bool fake = false, verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            if (filter_opts(argv[++i], opts, sizeof opts) != 0) {
                fprintf(stderr, "mount.chunkfs: options too long\n");
                return 1;
            }
        } else if (strncmp(a, "-o", 2) == 0 && a[2]) {
            if (filter_opts(a + 2, opts, sizeof opts) != 0) {
                fprintf(stderr, "mount.chunkfs: options too long\n");
                return 1;
            }
        } else if ((strcmp(a, "-t") == 0 || strcmp(a, "-N") == 0) && i + 1 < argc) {
            i++; /* type is ours; namespaces are not supported and ignored */
        } else if (a[0] == '-' && a[1] && strspn(a + 1, "sfnvr") == strlen(a + 1)) {
            fake |= strchr(a, 'f') != NULL;
            verbose |= strchr(a, 'v') != NULL;
            if (strchr(a, 'r') && filter_opts("ro", opts, sizeof opts) != 0) return 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "mount.chunkfs: unknown option %s\n", a);
            return 1;
        } else if (!spec) {
            spec = a;
        } else if (!dir) {
            dir = a;
        } else {
            fprintf(stderr, "mount.chunkfs: too many arguments\n");
            return 1;
        }
    }
    if (!spec || !dir) {
        fprintf(stderr, "usage: mount.chunkfs META_ADDRS DIR [-sfnv] [-o options]\n");
        return 1;
    }
    char mounter[PATH_MAX + 32];
    find_mounter(mounter, sizeof mounter);
    char *args[8];
    int n = 0;
    args[n++] = mounter;
    if (opts[0]) {
        args[n++] = "-o";
        args[n++] = opts;
    }
    args[n++] = (char *)spec;
    args[n++] = (char *)dir;
    args[n] = NULL;
    if (verbose || fake) {
        for (int i = 0; i < n; i++)
            fprintf(stderr, "%s%s", i ? " " : "", args[i]);
        fprintf(stderr, "\n");
    }
    if (fake) return 0;
    execvp(mounter, args);
    fprintf(stderr, "mount.chunkfs: cannot run %s: %s\n", mounter, strerror(errno));
    return 1;
}
