/* ship_proxy.c - a TCP proxy for tests: corrupts, slows or refuses uploads.
 *
 *   ship_proxy --listen PORT --target PORT [--corrupt never|once|always]
 *              [--path PREFIX] [--rate BYTES_PER_SECOND]
 *              [--fail N --fail-code CODE [--retry-after SECONDS]]
 *
 * Forwards 127.0.0.1:PORT to 127.0.0.1:TARGET, one thread per
 * connection.  It follows the HTTP/1.1 requests on each connection
 * (Content-Length bodies, keep-alive) and flips one bit in the middle
 * of the body of requests whose path starts with PREFIX (default
 * "/v1/binaries/"): never, on the first such request only, or always.
 * --rate throttles what the client sends, so that an upload lasts long
 * enough for a test to act in the middle of it.  --fail answers the
 * first N such requests itself with CODE (and a Retry-After header when
 * given), closing the connection, as a busy or failing leader would.
 * Each corrupted or refused request is logged on stderr as
 * "corrupted path=..." or "refused path=... code=...".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PROXY_HEAD_MAX (64 * 1024)
#define PROXY_CHUNK    (16 * 1024)

enum proxy_mode { PROXY_NEVER, PROXY_ONCE, PROXY_ALWAYS };

static enum proxy_mode proxy_mode = PROXY_NEVER;
static const char *proxy_prefix = "/v1/binaries/";
static long proxy_rate;
static int proxy_target;
static atomic_bool proxy_spent;
static atomic_long proxy_fail;
static long proxy_fail_code = 503, proxy_retry_after = -1;

/* The client-to-server direction of one connection, parsed. */
struct proxy_conn {
    int client, server;
    char head[PROXY_HEAD_MAX];
    size_t head_len;
    long long body_left; /* bytes of the current body still to pass */
    long long flip_at;   /* offset from the end of the body, or -1 */
};

static int proxy_send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void proxy_throttle(size_t n)
{
    struct timespec ts;
    long long ns;

    if (proxy_rate <= 0)
        return;
    ns = (long long)n * 1000000000LL / proxy_rate;
    ts.tv_sec = ns / 1000000000LL;
    ts.tv_nsec = ns % 1000000000LL;
    nanosleep(&ts, NULL);
}

static bool proxy_should_corrupt(const char *path)
{
    if (proxy_mode == PROXY_NEVER ||
        strncmp(path, proxy_prefix, strlen(proxy_prefix)) != 0)
        return false;
    if (proxy_mode == PROXY_ALWAYS)
        return true;
    return !atomic_exchange(&proxy_spent, true);
}

/*
 * Reads and drops what the client still sends of a refused body, so
 * that closing does not reset the connection before it reads the answer.
 */
static void proxy_drain(int fd, long long len)
{
    struct timeval tv = {.tv_sec = 5};
    char buf[PROXY_CHUNK];

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (len > 0) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);

        if (n <= 0)
            break;
        len -= n;
    }
}

/* Answers the request itself, as a leader refusing it would. */
static void proxy_refuse(struct proxy_conn *c, const char *path, long long len)
{
    char resp[512], ra[64] = "";
    const char *body = "{\"error\": \"refused by ship_proxy\"}";

    if (proxy_retry_after >= 0)
        snprintf(ra, sizeof(ra), "Retry-After: %ld\r\n", proxy_retry_after);
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 %ld Refused\r\n%sContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             proxy_fail_code, ra, strlen(body), body);
    proxy_send_all(c->client, resp, strlen(resp));
    fprintf(stderr, "refused path=%s code=%ld\n", path, proxy_fail_code);
    proxy_drain(c->client, len);
}

static bool proxy_should_refuse(const char *path)
{
    if (strncmp(path, proxy_prefix, strlen(proxy_prefix)) != 0)
        return false;
    return atomic_fetch_sub(&proxy_fail, 1) > 0;
}

/* A whole head is in c->head: note its body and what to do with it.
 * Returns -1 when the request was answered here and the connection must
 * close. */
static int proxy_parse_head(struct proxy_conn *c)
{
    char path[1024] = "";
    const char *cl;
    long long len = 0;

    c->head[c->head_len] = '\0';
    sscanf(c->head, "%*s %1023s", path);
    for (cl = c->head; (cl = strchr(cl, '\n')) != NULL;) {
        cl++;
        if (strncasecmp(cl, "Content-Length:", 15) == 0)
            len = atoll(cl + 15);
    }
    if (proxy_should_refuse(path)) {
        proxy_refuse(c, path, len);
        return -1;
    }
    c->body_left = len;
    c->flip_at = -1;
    if (len > 0 && proxy_should_corrupt(path)) {
        c->flip_at = len / 2 + 1;
        fprintf(stderr, "corrupted path=%s length=%lld\n", path, len);
    }
    return 0;
}

/* Passes body bytes, flipping the chosen one.  Returns bytes used. */
static size_t proxy_body(struct proxy_conn *c, char *buf, size_t len)
{
    size_t n = len < (size_t)c->body_left ? len : (size_t)c->body_left;

    if (c->flip_at > 0 && c->body_left >= c->flip_at &&
        c->body_left - (long long)n < c->flip_at)
        buf[c->body_left - c->flip_at] ^= 0x01;
    c->body_left -= (long long)n;
    return proxy_send_all(c->server, buf, n) < 0 ? 0 : n;
}

/* Collects a head byte by byte up to its blank line, then forwards it. */
static size_t proxy_head(struct proxy_conn *c, const char *buf, size_t len)
{
    size_t used = 0;

    while (used < len) {
        c->head[c->head_len++] = buf[used++];
        if ((c->head_len >= 4 &&
             memcmp(c->head + c->head_len - 4, "\r\n\r\n", 4) == 0) ||
            c->head_len == PROXY_HEAD_MAX - 1) {
            if (proxy_parse_head(c) < 0 ||
                proxy_send_all(c->server, c->head, c->head_len) < 0)
                return 0;
            c->head_len = 0;
            break;
        }
    }
    return used;
}

static int proxy_upstream(struct proxy_conn *c)
{
    char buf[PROXY_CHUNK];
    ssize_t n = recv(c->client, buf, sizeof(buf), 0);
    size_t off = 0;

    if (n <= 0)
        return -1;
    proxy_throttle((size_t)n);
    while (off < (size_t)n) {
        size_t used = c->body_left > 0
                          ? proxy_body(c, buf + off, (size_t)n - off)
                          : proxy_head(c, buf + off, (size_t)n - off);

        if (used == 0)
            return -1;
        off += used;
    }
    return 0;
}

static int proxy_downstream(struct proxy_conn *c)
{
    char buf[PROXY_CHUNK];
    ssize_t n = recv(c->server, buf, sizeof(buf), 0);

    if (n <= 0)
        return -1;
    return proxy_send_all(c->client, buf, (size_t)n);
}

static int proxy_connect(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_port = htons((unsigned short)proxy_target);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *proxy_conn_run(void *arg)
{
    struct proxy_conn *c = arg;

    c->server = proxy_connect();
    while (c->server >= 0) {
        struct pollfd p[2] = {{c->client, POLLIN, 0}, {c->server, POLLIN, 0}};

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents && proxy_upstream(c) < 0)
            break;
        if (p[1].revents && proxy_downstream(c) < 0)
            break;
    }
    close(c->client);
    if (c->server >= 0)
        close(c->server);
    free(c);
    return NULL;
}

static int proxy_listen(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
        return -1;
    return fd;
}

static void proxy_usage(void)
{
    fprintf(stderr, "usage: ship_proxy --listen PORT --target PORT "
                    "[--corrupt never|once|always] [--path PREFIX] "
                    "[--rate BYTES_PER_SECOND] [--fail N --fail-code CODE "
                    "[--retry-after SECONDS]]\n");
    exit(2);
}

static void proxy_flags(int argc, char **argv, int *port)
{
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL)
            proxy_usage();
        if (strcmp(argv[i], "--listen") == 0)
            *port = atoi(v);
        else if (strcmp(argv[i], "--target") == 0)
            proxy_target = atoi(v);
        else if (strcmp(argv[i], "--path") == 0)
            proxy_prefix = v;
        else if (strcmp(argv[i], "--fail") == 0)
            proxy_fail = atol(v);
        else if (strcmp(argv[i], "--fail-code") == 0)
            proxy_fail_code = atol(v);
        else if (strcmp(argv[i], "--retry-after") == 0)
            proxy_retry_after = atol(v);
        else if (strcmp(argv[i], "--rate") == 0)
            proxy_rate = atol(v);
        else if (strcmp(argv[i], "--corrupt") == 0)
            proxy_mode = strcmp(v, "always") == 0 ? PROXY_ALWAYS
                         : strcmp(v, "once") == 0 ? PROXY_ONCE
                                                  : PROXY_NEVER;
        else
            proxy_usage();
    }
    if (*port <= 0 || proxy_target <= 0)
        proxy_usage();
}

int main(int argc, char **argv)
{
    int port = 0, lfd;

    proxy_flags(argc, argv, &port);
    signal(SIGPIPE, SIG_IGN);
    lfd = proxy_listen(port);
    if (lfd < 0) {
        perror("ship_proxy: listen");
        return 1;
    }
    fprintf(stderr, "listening port=%d target=%d\n", port, proxy_target);
    for (;;) {
        struct proxy_conn *c = calloc(1, sizeof(*c));
        pthread_t t;

        if (c == NULL)
            return 1;
        c->client = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c->client < 0) {
            free(c);
            continue;
        }
        pthread_create(&t, NULL, proxy_conn_run, c);
        pthread_detach(t);
    }
}
