#ifndef CFS_HTTP_SERVER_H
#define CFS_HTTP_SERVER_H
/* A small embedded HTTP server (libmicrohttpd) for operators: exact-path GET handlers,
 * one thread per connection (handlers may block for a few seconds, e.g. asking the Raft
 * leader), connections limited and timed out. Every server gets GET /metrics (the
 * process-wide cfs_metrics_global registry) and GET /log-level?level=debug|info|warn|error
 * (sets the log level; without a level it reports the current one).
 *
 * Usage: cfs_http_server_new, cfs_http_server_route..., cfs_http_server_start; routes cannot
 * be added once started. */
#include <stddef.h>

typedef struct cfs_http_server cfs_http_server;
typedef struct cfs_http_request cfs_http_request;

typedef struct cfs_http_response {
    int status;               /* HTTP status; the handler sets it (default 200) */
    const char *content_type; /* static string; default "text/plain; charset=utf-8" */
    char *body;               /* malloc'd by the handler; the server frees it */
    size_t len;
} cfs_http_response;

/* Fills *resp. Returns 0, or a negative errno to answer 500 (body ignored and freed). */
typedef int (*cfs_http_handler)(void *arg, const cfs_http_request *req, cfs_http_response *resp);

/* The value of query parameter `key` (URL-decoded), or NULL. Valid during the handler. */
const char *cfs_http_query(const cfs_http_request *req, const char *key);

/* 0 or -ENOMEM. The built-in /metrics and /log-level routes are added here. */
int cfs_http_server_new(cfs_http_server **out);
/* path: exact match, starting with '/'. 0, -EINVAL (bad path, duplicate, already started),
 * -ENOSPC (more than 32 routes). */
int cfs_http_server_route(cfs_http_server *s, const char *path, cfs_http_handler fn, void *arg);
/* Binds host:port (IPv4 host or name; port 0 picks a free port) and serves. *port = bound
 * port. 0, -EINVAL (bad address), -EADDRINUSE, -EIO (the library failed to start). */
int cfs_http_server_start(cfs_http_server *s, const char *listen, int *port);
/* Stops serving (waits for running handlers) and frees. NULL is fine. */
void cfs_http_server_free(cfs_http_server *s);

/* Convenience for handlers: resp->body = a malloc'd copy of text. 0 or -ENOMEM. */
int cfs_http_set_text(cfs_http_response *resp, int status, const char *content_type,
                      const char *text);

#endif
