// The libpcap boundary: the library's header, for its types and constants. The library itself is loaded on
// first use (RouteprobeCapture/PcapLibrary.swift), so the module links nothing.
#ifndef ROUTEPROBE_CPCAP_SHIM_H
#define ROUTEPROBE_CPCAP_SHIM_H

#include <pcap/pcap.h>

#endif
