// The libmnl boundary: the library's header plus the few things Swift cannot import.
#ifndef ROUTEPROBE_CMNL_SHIM_H
#define ROUTEPROBE_CMNL_SHIM_H

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/// MNL_SOCKET_AUTOPID, named here with the other values the netlink target takes from the C side.
static inline unsigned int routeprobe_mnl_autopid(void) { return MNL_SOCKET_AUTOPID; }

#endif
