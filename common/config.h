#ifndef CFS_CONFIG_H
#define CFS_CONFIG_H
/* Program options from an ini config file plus command-line flags that override it.
 *
 * A program declares a table of options (terminated by an entry with name == NULL):
 *   static const cfs_config_def defs[] = {
 *       {"listen", CFS_CFG_STRING, "127.0.0.1:7000", "address to serve on"},
 *       {"data-dir", CFS_CFG_LIST, NULL, "chunk directory (repeatable)"},
 *       {"chunk-size", CFS_CFG_SIZE, "64M", "chunk size"},
 *       {NULL}};
 * Precedence: default < config file < command line. Accepted forms:
 *   --name value    --name=value    --flag / --no-flag / --flag=true|false (bool only)
 *   --config FILE   ini file; keys are option names, in any section (`[chunkserver]` or
 *                   none); '_' and '-' are the same in keys; a repeated key adds to a list
 *   --help          sets help=1 (print cfs_config_usage and exit 0)
 *   --              the rest are positional arguments; a lone "-" is positional too
 * Lists (CFS_CFG_LIST): every --name adds one value; if the command line gives any, they
 * replace the file's values. Sizes: a number with an optional K, M, G or T suffix (powers
 * of 1024; "KiB"/"KB"/"k" are accepted). Bools: 1/0, true/false, yes/no, on/off.
 * Any bad input (unknown option or key, missing value, bad number, unreadable file, value
 * for a bool in the "--flag value" form) returns -EINVAL with a message naming the option
 * (and file:line for the config file) in `err`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cfs_config_type {
    CFS_CFG_STRING,
    CFS_CFG_INT,  /* int64, decimal */
    CFS_CFG_BOOL, /* 0 or 1 */
    CFS_CFG_SIZE, /* bytes, from "64M" etc. */
    CFS_CFG_LIST, /* repeatable string */
};

typedef struct cfs_config_def {
    const char *name; /* "--name" on the command line, "name" in the file */
    enum cfs_config_type type;
    const char *def;  /* default as text, parsed like user input; NULL = unset */
    const char *help; /* one line for --help */
} cfs_config_def;

typedef struct cfs_config_value {
    int set;     /* given in the file or on the command line */
    char *str;   /* STRING: the value (NULL if unset and no default) */
    int64_t num; /* INT, SIZE, BOOL */
    char **list; /* LIST: nlist values */
    size_t nlist;
} cfs_config_value;

typedef struct cfs_config {
    const cfs_config_def *defs;
    size_t ndefs;
    cfs_config_value *values; /* parallel to defs */
    char **positional;        /* argv entries that are not options (not copied) */
    int npositional;
    int help;          /* --help was given */
    char *config_file; /* --config value, or NULL */
} cfs_config;

/* Parses argv[1..argc) (argv[0] is the program). On success returns 0 with *out filled
 * (free it with cfs_config_free). On failure returns -EINVAL (or -ENOMEM), writes a message
 * to err[0..errlen) and leaves nothing to free. Defaults are checked too: a bad default is
 * reported like bad input. */
int cfs_config_parse(const cfs_config_def *defs, int argc, char **argv, cfs_config *out, char *err,
                     size_t errlen);
void cfs_config_free(cfs_config *c);

/* Accessors by option name. Asking for a name that is not in the table, or with the wrong
 * type, is a programming error: it logs and aborts. */
const char *cfs_config_str(const cfs_config *c, const char *name); /* NULL if unset */
int64_t cfs_config_int(const cfs_config *c, const char *name);     /* INT and SIZE */
int cfs_config_bool(const cfs_config *c, const char *name);
/* The list's values (the array belongs to the config); returns the count. */
size_t cfs_config_list(const cfs_config *c, const char *name, char *const **items);
/* 1 if the option was given in the file or on the command line (not just defaulted). */
int cfs_config_is_set(const cfs_config *c, const char *name);

/* Writes --help text: a usage line with `synopsis` (e.g. "[options] SRC DST"), then one line
 * per option with its type, help and default. */
void cfs_config_usage(const cfs_config_def *defs, const char *prog, const char *synopsis,
                      FILE *out);

/* Parses a size such as "64M", "1g", "4096", "512KiB". 0 or -EINVAL (also on overflow). */
int cfs_parse_size(const char *s, int64_t *out);

#endif
