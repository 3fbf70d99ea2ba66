/* Embedded HTTP server over libmicrohttpd (see http_server.h). We bind the listening socket
 * ourselves so a bind failure comes back as its exact errno and port 0 can be reported. */
#include "common/http_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"

#define MAX_ROUTES 32
#define MAX_CONNECTIONS 64
#define CONNECTION_TIMEOUT_S 30

typedef struct route {
    char path[128];
    cfs_http_handler fn;
    void *arg;
} route;

struct cfs_http_server {
    route routes[MAX_ROUTES];
    size_t n_routes;
    struct MHD_Daemon *daemon;
};

struct cfs_http_request {
    struct MHD_Connection *conn;
};

const char *cfs_http_query(const cfs_http_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

int cfs_http_set_text(cfs_http_response *resp, int status, const char *content_type,
                      const char *text)
{
    char *copy = strdup(text);
    if (!copy) return -ENOMEM;
    free(resp->body);
    resp->body = copy;
    resp->len = strlen(copy);
    resp->status = status;
    if (content_type) resp->content_type = content_type;
    return 0;
}

/* ---------------------------------------------------------------- built-in routes */

static int serve_metrics(void *arg, const cfs_http_request *req, cfs_http_response *resp)
{
    (void)arg;
    (void)req;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return cfs_metrics_render(cfs_metrics_global(), &resp->body, &resp->len);
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static int serve_log_level(void *arg, const cfs_http_request *req, cfs_http_response *resp)
{
    (void)arg;
    const char *want = cfs_http_query(req, "level");
    char text[96];
    if (want) {
        enum cfs_log_level lvl;
        if (cfs_log_parse_level(want, &lvl) != 0)
            return cfs_http_set_text(resp, 400, NULL, "level must be debug, info, warn or error\n");
        cfs_log_set_level(lvl);
        LOG_WARN("log level set to %s over HTTP", level_names[lvl & 3]);
    }
    snprintf(text, sizeof(text), "%s\n", level_names[cfs_log_get_level() & 3]);
    return cfs_http_set_text(resp, 200, NULL, text);
}

/* ---------------------------------------------------------------- server */

int cfs_http_server_new(cfs_http_server **out)
{
    cfs_http_server *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    int rc = cfs_http_server_route(s, "/metrics", serve_metrics, NULL);
    if (rc == 0) rc = cfs_http_server_route(s, "/log-level", serve_log_level, NULL);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cfs_http_server_route(cfs_http_server *s, const char *path, cfs_http_handler fn, void *arg)
{
    if (!path || path[0] != '/' || strlen(path) >= sizeof(s->routes[0].path) || !fn || s->daemon)
        return -EINVAL;
    for (size_t i = 0; i < s->n_routes; i++)
        if (strcmp(s->routes[i].path, path) == 0) return -EINVAL;
    if (s->n_routes >= MAX_ROUTES) return -ENOSPC;
    route *r = &s->routes[s->n_routes++];
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->fn = fn;
    r->arg = arg;
    return 0;
}

static enum MHD_Result queue(struct MHD_Connection *conn, int status, const char *type, char *body,
                             size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result queue_text(struct MHD_Connection *conn, int status, const char *text)
{
    char *body = strdup(text);
    if (!body) return MHD_NO;
    return queue(conn, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    cfs_http_server *s = cls;
    (void)version;
    (void)upload_data;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    if (*upload_data_size != 0) return queue_text(conn, MHD_HTTP_BAD_REQUEST, "no body\n");
    const route *r = NULL;
    for (size_t i = 0; i < s->n_routes && !r; i++)
        if (strcmp(s->routes[i].path, url) == 0) r = &s->routes[i];
    if (!r) return queue_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    cfs_http_request req = {.conn = conn};
    cfs_http_response resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    int rc = r->fn(r->arg, &req, &resp);
    if (rc != 0) {
        free(resp.body);
        LOG_WARN("http %s: %s", url, strerror(-rc));
        char text[160];
        snprintf(text, sizeof(text), "error: %s\n", strerror(-rc));
        return queue_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text);
    }
    if (!resp.body) {
        resp.body = strdup("");
        if (!resp.body) return MHD_NO;
        resp.len = 0;
    }
    return queue(conn, resp.status, resp.content_type, resp.body, resp.len);
}

/* "host:port" -> a listening IPv4 socket. fd or -errno. */
static int listen_on(const char *listen_addr, int *port)
{
    const char *colon = strrchr(listen_addr, ':');
    if (!colon || colon == listen_addr || !colon[1]) return -EINVAL;
    char host[256];
    size_t hl = (size_t)(colon - listen_addr);
    if (hl >= sizeof(host)) return -EINVAL;
    memcpy(host, listen_addr, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (*end || errno || p < 0 || p > 65535) return -EINVAL;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai) return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = fd < 0 ? -errno : 0;
    int one = 1;
    if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) rc = -errno;
    if (rc == 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) rc = -errno;
    if (rc == 0 && listen(fd, 64) != 0) rc = -errno;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    if (rc == 0 && getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) rc = -errno;
    freeaddrinfo(ai);
    if (rc) {
        if (fd >= 0) close(fd);
        return rc;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

int cfs_http_server_start(cfs_http_server *s, const char *listen_addr, int *port)
{
    if (!listen_addr || s->daemon) return -EINVAL;
    int fd = listen_on(listen_addr, port);
    if (fd < 0) return fd;
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, NULL,
        NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        return -EIO;
    }
    return 0;
}

void cfs_http_server_free(cfs_http_server *s)
{
    if (!s) return;
    if (s->daemon) MHD_stop_daemon(s->daemon); /* also closes the listening socket */
    free(s);
}
