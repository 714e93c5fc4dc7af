/* The floor for scripts/bench/routes.sh: the least a libmnl program can do to dump and parse every IPv4
 * route (recvfrom + mnl_cb_run + mnl_attr_parse per route, counting), with the same 64 KiB receive buffer
 * routeprobe uses. Not part of routeprobe; compiled by the benchmark. */
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int attribute(const struct nlattr *attr, void *data) {
    const struct nlattr **table = data;
    int type = mnl_attr_get_type(attr);
    if (mnl_attr_type_valid(attr, RTA_MAX) < 0) return MNL_CB_OK;
    table[type] = attr;
    return MNL_CB_OK;
}

static int route(const struct nlmsghdr *message, void *data) {
    const struct nlattr *table[RTA_MAX + 1] = {0};
    mnl_attr_parse(message, sizeof(struct rtmsg), attribute, table);
    (*(unsigned long *)data)++;
    return MNL_CB_OK;
}

int main(void) {
    static char buffer[1 << 16];
    struct mnl_socket *socket = mnl_socket_open(NETLINK_ROUTE);
    if (!socket || mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) { perror("mnl_socket"); return 1; }
    unsigned int sequence = time(NULL), port = mnl_socket_get_portid(socket);
    struct nlmsghdr *request = mnl_nlmsg_put_header(buffer);
    request->nlmsg_type = RTM_GETROUTE;
    request->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request->nlmsg_seq = sequence;
    struct rtmsg *header = mnl_nlmsg_put_extra_header(request, sizeof(struct rtmsg));
    header->rtm_family = AF_INET;
    if (mnl_socket_sendto(socket, request, request->nlmsg_len) < 0) { perror("sendto"); return 1; }
    unsigned long routes = 0;
    int result;
    do {
        ssize_t length = mnl_socket_recvfrom(socket, buffer, sizeof(buffer));
        if (length < 0) { perror("recvfrom"); return 1; }
        result = mnl_cb_run(buffer, length, sequence, port, route, &routes);
    } while (result > MNL_CB_STOP);
    if (result < 0) { perror("mnl_cb_run"); return 1; }
    printf("%lu routes\n", routes);
    mnl_socket_close(socket);
    return 0;
}
