// The libpcap boundary: the library's header; nothing else is needed yet.
#ifndef ROUTEPROBE_CPCAP_SHIM_H
#define ROUTEPROBE_CPCAP_SHIM_H

#include <pcap/pcap.h>

#endif
