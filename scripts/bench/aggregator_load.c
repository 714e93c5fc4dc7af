// Load generator for scripts/bench/aggregator.sh: registers N simulated nodes with a routeprobe aggregator,
// then posts one realistic report per node per interval (open loop, evenly spaced), over C keep-alive
// connections with epoll, and measures each report's latency from its scheduled send time (so a slow
// server cannot hide queueing). Each node reports on the next three nodes' pod CIDRs: ICMP and TCP to a
// pod target, with the owner's host as control, as an agent with K = 3 would.
//
//   aggregator_load HOST PORT TOKEN NODES INTERVAL_S WARMUP_S MEASURE_S CONNECTIONS [CA_FILE]
//
// TOKEN with a %d is each node's own token (printf'd with the node's number, as --node-tokens maps them);
// without, one token for all. With CA_FILE the connections speak TLS (OpenSSL), checking the server's
// certificate against CA_FILE and HOST, as agents do; each connection shakes hands once and is kept alive.
//
// Prints one line: nodes, reports sent and answered, errors, achieved rate, p50/p99/max latency in ms.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

// A connection: its socket and, with TLS, its OpenSSL session.
typedef struct {
    int fd;
    SSL *tls;
} connection;

static SSL_CTX *tls_context;  // NULL: plain HTTP

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static connection connect_to(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &address.sin_addr);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("connect"); exit(1); }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connection c = {.fd = fd, .tls = NULL};
    if (tls_context) {
        c.tls = SSL_new(tls_context);
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.tls), host);
        SSL_set_fd(c.tls, fd);
        if (SSL_connect(c.tls) != 1) { fprintf(stderr, "TLS handshake with %s:%d failed\n", host, port); ERR_print_errors_fp(stderr); exit(1); }
    }
    return c;
}

static void disconnect(connection *c) {
    if (c->tls) { SSL_free(c->tls); c->tls = NULL; }
    close(c->fd);
}

static int send_all(connection *c, const char *data, size_t length) {
    if (c->tls) return SSL_write(c->tls, data, (int)length) == (int)length ? 0 : -1;
    return write(c->fd, data, length) == (ssize_t)length ? 0 : -1;
}

static ssize_t receive(connection *c, char *buffer, size_t size) {
    if (c->tls) {
        int got = SSL_read(c->tls, buffer, (int)size);
        return got > 0 ? got : -1;
    }
    return read(c->fd, buffer, size);
}

// Bytes OpenSSL already holds for the connection (epoll cannot see them).
static int pending(connection *c) { return c->tls ? SSL_pending(c->tls) : 0; }

// Reads one HTTP response (Content-Length framed) from a blocking socket; returns the status code.
static int read_response(connection *c, char *buffer, size_t size, size_t *have) {
    for (;;) {
        char *end = memmem(buffer, *have, "\r\n\r\n", 4);
        if (end) {
            size_t header = end - buffer + 4;
            char *length = strcasestr(buffer, "content-length:");
            size_t body = length && length < end ? strtoul(length + 15, NULL, 10) : 0;
            if (*have >= header + body) {
                int status = atoi(buffer + 9);
                memmove(buffer, buffer + header + body, *have - header - body);
                *have -= header + body;
                return status;
            }
        }
        ssize_t got = receive(c, buffer + *have, size - *have - 1);
        if (got <= 0) return -1;
        *have += got;
        buffer[*have] = 0;
    }
}

static char *request(const char *method, const char *path, const char *token, const char *body, size_t *length) {
    size_t body_length = body ? strlen(body) : 0;
    char *text = malloc(body_length + 512);
    *length = sprintf(text, "%s %s HTTP/1.1\r\nHost: aggregator\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n%s", method, path, token, body_length, body ? body : "");
    return text;
}

static void node_ip(int i, char *out) { sprintf(out, "10.%d.%d.%d", 100 + (i >> 16), (i >> 8) & 255, i & 255); }
static void node_cidr(int i, char *out) { sprintf(out, "172.%d.%d.0/24", 16 + (i >> 8), i & 255); }
static void node_pod(int i, char *out) { sprintf(out, "172.%d.%d.12", 16 + (i >> 8), i & 255); }

static char *report_body(int node, int nodes) {
    char *body = malloc(8192), ip[32], cidr[32], pod[32];
    int n = sprintf(body, "{\"schema\":2,\"node\":\"node-%d\",\"round\":1,\"openAfter\":2,\"results\":[", node);
    for (int k = 1; k <= 3; k++) {
        int owner = (node + k) % nodes;
        node_ip(owner, ip); node_cidr(owner, cidr); node_pod(owner, pod);
        for (int p = 0; p < 2; p++) {
            n += sprintf(body + n, "%s{\"target\":\"%s\",\"protocol\":\"%s\",%s\"owner\":\"node-%d\",\"cidr\":\"%s\",\"routeClass\":\"vpc\","
                         "\"device\":\"eth0\",\"gateway\":\"10.100.0.1\",\"outcome\":\"reply\",\"verdict\":\"reachable\",\"rttMs\":0.%03d,"
                         "\"sent\":1,\"received\":1,\"controlOutcome\":\"reply\",\"failedRounds\":0}",
                         (k == 1 && p == 0) ? "" : ",", pod, p ? "tcp" : "icmp", p ? "\"port\":9700," : "", owner, cidr, 100 + rand() % 900);
        }
    }
    sprintf(body + n, "],\"localFindings\":[],\"strayTraffic\":[]}");
    return body;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 9 && argc != 10) {
        fprintf(stderr, "usage: %s HOST PORT TOKEN NODES INTERVAL_S WARMUP_S MEASURE_S CONNECTIONS [CA_FILE]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1], *token_format = argv[3];
    if (argc == 10) {
        tls_context = SSL_CTX_new(TLS_client_method());
        if (SSL_CTX_load_verify_locations(tls_context, argv[9], NULL) != 1) { fprintf(stderr, "cannot read the CA %s\n", argv[9]); return 2; }
        SSL_CTX_set_verify(tls_context, SSL_VERIFY_PEER, NULL);
    }
    char token[256];
    int port = atoi(argv[2]), nodes = atoi(argv[4]), connections = atoi(argv[8]);
    double interval = atof(argv[5]), warmup = atof(argv[6]), measure = atof(argv[7]);
    static char buffer[1 << 16];

    // Registration, one keep-alive connection.
    double registering = now();
    connection registrar = connect_to(host, port);
    size_t have = 0;
    for (int i = 0; i < nodes; i++) {
        char body[256], ip[32], cidr[32], pod[32];
        snprintf(token, sizeof token, token_format, i);
        node_ip(i, ip); node_cidr(i, cidr); node_pod(i, pod);
        sprintf(body, "{\"schema\":2,\"node\":\"node-%d\",\"ip\":\"%s\",\"podCIDRs\":[\"%s\"],\"podTargets\":[\"%s\"]}", i, ip, cidr, pod);
        size_t length;
        char *text = request("POST", "/api/v1/register", token, body, &length);
        if (send_all(&registrar, text, length) != 0) { perror("write"); return 1; }
        free(text);
        int status = read_response(&registrar, buffer, sizeof buffer, &have);
        if (status != 200) { fprintf(stderr, "register node-%d: HTTP %d\n", i, status); return 1; }
    }
    disconnect(&registrar);
    printf("registered=%d register_s=%.2f\n", nodes, now() - registering);
    fflush(stdout);

    char **requests = malloc(sizeof(char *) * nodes);
    size_t *lengths = malloc(sizeof(size_t) * nodes);
    for (int i = 0; i < nodes; i++) {
        char *body = report_body(i, nodes);
        snprintf(token, sizeof token, token_format, i);
        requests[i] = request("POST", "/api/v1/reports", token, body, &lengths[i]);
        free(body);
    }

    int epoll = epoll_create1(0);
    connection *fds = malloc(sizeof(connection) * connections);
    double *started = calloc(connections, sizeof(double));
    int *busy = calloc(connections, sizeof(int));
    size_t *filled = calloc(connections, sizeof(size_t));
    char **buffers = malloc(sizeof(char *) * connections);
    for (int c = 0; c < connections; c++) {
        fds[c] = connect_to(host, port);
        buffers[c] = malloc(1 << 14);
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = c};
        epoll_ctl(epoll, EPOLL_CTL_ADD, fds[c].fd, &event);
    }

    printf("connected=%d\n", connections);
    fflush(stdout);
    double gap = interval / nodes, begin = now(), measure_from = begin + warmup, end = measure_from + measure;
    size_t capacity = (size_t)(measure / gap) + 1024, samples = 0;
    double *latencies = malloc(sizeof(double) * capacity);
    long sent = 0, answered = 0, errors = 0, measured_sent = 0;
    long next = 0;  // index of the next scheduled report
    int free_count = connections, cursor = 0;
    for (;;) {
        double t = now();
        if (t >= end && free_count == connections) break;
        // Send everything due, as connections allow (late sends keep their scheduled time).
        while (t < end && begin + next * gap <= t && free_count > 0) {
            // Round robin, so that every connection stays busy (an idle one would be closed by the server).
            while (busy[cursor]) cursor = (cursor + 1) % connections;
            int c = cursor;
            cursor = (cursor + 1) % connections;
            int node = next % nodes;
            if (send_all(&fds[c], requests[node], lengths[node]) != 0) { perror("write"); return 1; }
            busy[c] = 1; free_count--;
            started[c] = begin + next * gap;
            next++; sent++;
            if (started[c] >= measure_from) measured_sent++;
        }
        double wait = begin + next * gap - now();
        int timeout = free_count == 0 || wait > 0.001 ? (int)(wait * 1000) : 0;
        if (free_count == 0 || t >= end) timeout = 100;
        struct epoll_event events[64];
        int ready = epoll_wait(epoll, events, 64, timeout < 0 ? 0 : timeout);
        for (int e = 0; e < ready; e++) {
            int c = events[e].data.u32;
            int complete = 0, closed = 0;
            do {  // with TLS, read on while OpenSSL holds bytes epoll will not announce
                ssize_t got = receive(&fds[c], buffers[c] + filled[c], (1 << 14) - filled[c] - 1);
                if (got <= 0) { closed = 1; break; }
                filled[c] += got;
                buffers[c][filled[c]] = 0;
                char *head_end = memmem(buffers[c], filled[c], "\r\n\r\n", 4);
                if (!head_end) continue;
                char *length = strcasestr(buffers[c], "content-length:");
                size_t total = head_end - buffers[c] + 4 + (length && length < head_end ? strtoul(length + 15, NULL, 10) : 0);
                complete = filled[c] >= total;
            } while (!complete && pending(&fds[c]) > 0);
            if (closed) {  // closed by the server: count an error, reconnect, free the slot
                epoll_ctl(epoll, EPOLL_CTL_DEL, fds[c].fd, NULL);
                disconnect(&fds[c]);
                fds[c] = connect_to(host, port);
                struct epoll_event event = {.events = EPOLLIN, .data.u32 = c};
                epoll_ctl(epoll, EPOLL_CTL_ADD, fds[c].fd, &event);
                errors++; answered++;
                filled[c] = 0; busy[c] = 0; free_count++;
                continue;
            }
            if (!complete) continue;
            int status = atoi(buffers[c] + 9);
            double done = now();
            if (status != 202) errors++;
            answered++;
            if (started[c] >= measure_from && started[c] < end && samples < capacity) latencies[samples++] = (done - started[c]) * 1000;
            filled[c] = 0;
            busy[c] = 0; free_count++;
        }
    }
    qsort(latencies, samples, sizeof(double), compare);
    double p50 = samples ? latencies[samples / 2] : 0, p99 = samples ? latencies[(size_t)(samples * 0.99)] : 0;
    printf("nodes=%d sent=%ld answered=%ld errors=%ld rate=%.0f/s p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", nodes, sent, answered,
           errors, measured_sent / measure, p50, p99, samples ? latencies[samples - 1] : 0);
    return 0;
}
