/// One kernel route, as a dump, a lookup or the monitor delivers it.
///
/// Fields keep what the kernel said, including absent attributes, so that the route can be printed exactly
/// as iproute2 prints it; `destination` and `nextHops` give the usual views.
public struct Route: Hashable, Sendable {
    /// The address family.
    public var family: AddressFamily
    /// The kind of route.
    public var type: RouteType
    /// The destination address (`RTA_DST`); nil for the default route.
    public var destinationAddress: IPAddress?
    /// The destination prefix length (`rtm_dst_len`).
    public var destinationLength: UInt8
    /// The source-specific prefix address (`RTA_SRC`), if any.
    public var sourceAddress: IPAddress?
    /// The source prefix length (`rtm_src_len`).
    public var sourceLength: UInt8
    /// The type-of-service selector (`rtm_tos`).
    public var tos: UInt8
    /// The table the route lives in (`RTA_TABLE`, else `rtm_table`).
    public var table: RouteTableID
    /// Who installed the route.
    public var routeProtocol: RouteProtocol
    /// The route's scope.
    public var scope: RouteScope
    /// Route flags (`rtm_flags`, including `RTCF_*` bits on cached IPv4 lookups).
    public var flags: RouteFlags
    /// The single-path gateway (`RTA_GATEWAY`).
    public var gateway: IPAddress?
    /// A single-path gateway of the other family (`RTA_VIA`).
    public var via: IPAddress?
    /// The output interface index (`RTA_OIF`).
    public var outputInterface: UInt32?
    /// The input interface index (`RTA_IIF`), set on lookups with `iif`.
    public var inputInterface: UInt32?
    /// The preferred source address (`RTA_PREFSRC`).
    public var preferredSource: IPAddress?
    /// The metric (`RTA_PRIORITY`).
    public var metric: UInt32?
    /// The firewall mark (`RTA_MARK`).
    public var mark: UInt32?
    /// Realms (`RTA_FLOW`).
    public var realms: UInt32?
    /// The uid a lookup was made for (`RTA_UID`).
    public var uid: UInt32?
    /// Cache information (`RTA_CACHEINFO`).
    public var cacheInfo: RouteCacheInfo?
    /// Path metrics (`RTA_METRICS`).
    public var metrics: RouteMetrics?
    /// IPv6 router preference (`RTA_PREF`: 0 medium, 1 high, 3 low).
    public var preference: UInt8?
    /// The nexthop object id (`RTA_NH_ID`).
    public var nextHopID: UInt32?
    /// The paths of a multipath route (`RTA_MULTIPATH`); empty for a single-path route.
    public var multipath: [NextHop]

    /// Builds a route; every attribute not given is absent.
    public init(family: AddressFamily, type: RouteType = .unicast, destinationAddress: IPAddress? = nil,
                destinationLength: UInt8 = 0, sourceAddress: IPAddress? = nil, sourceLength: UInt8 = 0, tos: UInt8 = 0,
                table: RouteTableID = .main, routeProtocol: RouteProtocol = .boot, scope: RouteScope = .universe,
                flags: RouteFlags = [], gateway: IPAddress? = nil, via: IPAddress? = nil,
                outputInterface: UInt32? = nil, inputInterface: UInt32? = nil, preferredSource: IPAddress? = nil,
                metric: UInt32? = nil, mark: UInt32? = nil, realms: UInt32? = nil, uid: UInt32? = nil,
                cacheInfo: RouteCacheInfo? = nil, metrics: RouteMetrics? = nil, preference: UInt8? = nil,
                nextHopID: UInt32? = nil, multipath: [NextHop] = []) {
        self.family = family
        self.type = type
        self.destinationAddress = destinationAddress
        self.destinationLength = destinationLength
        self.sourceAddress = sourceAddress
        self.sourceLength = sourceLength
        self.tos = tos
        self.table = table
        self.routeProtocol = routeProtocol
        self.scope = scope
        self.flags = flags
        self.gateway = gateway
        self.via = via
        self.outputInterface = outputInterface
        self.inputInterface = inputInterface
        self.preferredSource = preferredSource
        self.metric = metric
        self.mark = mark
        self.realms = realms
        self.uid = uid
        self.cacheInfo = cacheInfo
        self.metrics = metrics
        self.preference = preference
        self.nextHopID = nextHopID
        self.multipath = multipath
    }

    /// The destination as a prefix; `0.0.0.0/0` or `::/0` for the default route.
    public var destination: IPPrefix {
        let address = destinationAddress ?? (family == .inet ? .v4(0) : .v6(0, 0))
        return IPPrefix(address: address, length: Int(destinationLength))
            ?? IPPrefix(address: address, length: address.bitWidth)!
    }

    /// True for `default` (no destination, length 0).
    public var isDefault: Bool { destinationLength == 0 }

    /// Every path of the route: the multipath next hops, or the single gateway and device.
    public var nextHops: [NextHop] {
        if !multipath.isEmpty { return multipath }
        if gateway == nil, via == nil, outputInterface == nil { return [] }
        return [NextHop(gateway: gateway, via: via, interfaceIndex: outputInterface ?? 0, weight: 1, flags: flags.intersection(.nextHopFlags))]
    }
}

extension RouteFlags {
    /// The flags that describe a next hop rather than the route as a whole.
    public static let nextHopFlags: RouteFlags = [.dead, .pervasive, .onlink, .offload, .linkDown, .unresolved, .trap]
}

/// A change to the routing table, as the route monitor delivers it.
public enum RouteEvent: Sendable, Hashable {
    /// A route was added or replaced (`RTM_NEWROUTE`).
    case added(Route)
    /// A route was removed (`RTM_DELROUTE`).
    case deleted(Route)
    /// The event stream overflowed (ENOBUFS): the table was dumped again and this is now the whole of it.
    case resync([Route])
}
