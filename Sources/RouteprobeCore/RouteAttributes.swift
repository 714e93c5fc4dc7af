/// The kind of a route, `rtm_type` in `struct rtmsg`.
public struct RouteType: RawRepresentable, Hashable, Sendable, Comparable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `RTN_UNSPEC`.
    public static let unspecified = RouteType(rawValue: 0)
    /// `RTN_UNICAST`: a gateway or direct route.
    public static let unicast = RouteType(rawValue: 1)
    /// `RTN_LOCAL`: accept locally.
    public static let local = RouteType(rawValue: 2)
    /// `RTN_BROADCAST`: accept locally as broadcast, send as broadcast.
    public static let broadcast = RouteType(rawValue: 3)
    /// `RTN_ANYCAST`: accept locally as broadcast, send as unicast.
    public static let anycast = RouteType(rawValue: 4)
    /// `RTN_MULTICAST`.
    public static let multicast = RouteType(rawValue: 5)
    /// `RTN_BLACKHOLE`: drop silently.
    public static let blackhole = RouteType(rawValue: 6)
    /// `RTN_UNREACHABLE`: the destination is unreachable (ICMP host unreachable).
    public static let unreachable = RouteType(rawValue: 7)
    /// `RTN_PROHIBIT`: administratively prohibited (ICMP communication prohibited).
    public static let prohibit = RouteType(rawValue: 8)
    /// `RTN_THROW`: not in this table; policy routing continues with the next rule.
    public static let `throw` = RouteType(rawValue: 9)
    /// `RTN_NAT`.
    public static let nat = RouteType(rawValue: 10)
    /// `RTN_XRESOLVE`.
    public static let externalResolve = RouteType(rawValue: 11)

    /// The name iproute2 prints (`rtnl_rtntype_n2a`).
    public var name: String {
        switch rawValue {
        case 0: return "none"
        case 1: return "unicast"
        case 2: return "local"
        case 3: return "broadcast"
        case 4: return "anycast"
        case 5: return "multicast"
        case 6: return "blackhole"
        case 7: return "unreachable"
        case 8: return "prohibit"
        case 9: return "throw"
        case 10: return "nat"
        case 11: return "xresolve"
        default: return String(rawValue)
        }
    }

    /// True for the types that drop or reject traffic instead of forwarding it.
    public var rejectsTraffic: Bool { self == .blackhole || self == .unreachable || self == .prohibit }

    public static func < (lhs: RouteType, rhs: RouteType) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Who installed a route, `rtm_protocol`.
public struct RouteProtocol: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `RTPROT_UNSPEC`.
    public static let unspecified = RouteProtocol(rawValue: 0)
    /// `RTPROT_REDIRECT`: installed by an ICMP redirect.
    public static let redirect = RouteProtocol(rawValue: 1)
    /// `RTPROT_KERNEL`: installed by the kernel (for example for an address's subnet).
    public static let kernel = RouteProtocol(rawValue: 2)
    /// `RTPROT_BOOT`: installed during boot or by `ip route add` without a protocol.
    public static let boot = RouteProtocol(rawValue: 3)
    /// `RTPROT_STATIC`: installed by the administrator.
    public static let `static` = RouteProtocol(rawValue: 4)
}

/// How far a route's destination is, `rtm_scope`.
public struct RouteScope: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `RT_SCOPE_UNIVERSE`: reachable through a gateway (printed `global`).
    public static let universe = RouteScope(rawValue: 0)
    /// `RT_SCOPE_SITE`.
    public static let site = RouteScope(rawValue: 200)
    /// `RT_SCOPE_LINK`: directly on the link.
    public static let link = RouteScope(rawValue: 253)
    /// `RT_SCOPE_HOST`: this host.
    public static let host = RouteScope(rawValue: 254)
    /// `RT_SCOPE_NOWHERE`: no destination.
    public static let nowhere = RouteScope(rawValue: 255)
}

/// A routing table id. Tables above 255 travel in `RTA_TABLE`.
public struct RouteTableID: RawRepresentable, Hashable, Sendable, Comparable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `RT_TABLE_UNSPEC`.
    public static let unspecified = RouteTableID(rawValue: 0)
    /// `RT_TABLE_DEFAULT`.
    public static let `default` = RouteTableID(rawValue: 253)
    /// `RT_TABLE_MAIN`: the table `ip route` shows.
    public static let main = RouteTableID(rawValue: 254)
    /// `RT_TABLE_LOCAL`: local and broadcast addresses, maintained by the kernel.
    public static let local = RouteTableID(rawValue: 255)

    public static func < (lhs: RouteTableID, rhs: RouteTableID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Route and next-hop flags: `rtm_flags` (`RTM_F_*`) and `rtnh_flags` (`RTNH_F_*`), which share one space.
public struct RouteFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `RTNH_F_DEAD`: the next hop is dead.
    public static let dead = RouteFlags(rawValue: 0x1)
    /// `RTNH_F_PERVASIVE`.
    public static let pervasive = RouteFlags(rawValue: 0x2)
    /// `RTNH_F_ONLINK`: the gateway is on the link even if no prefix says so.
    public static let onlink = RouteFlags(rawValue: 0x4)
    /// `RTNH_F_OFFLOAD`.
    public static let offload = RouteFlags(rawValue: 0x8)
    /// `RTNH_F_LINKDOWN`: the next hop's carrier is down.
    public static let linkDown = RouteFlags(rawValue: 0x10)
    /// `RTNH_F_UNRESOLVED`.
    public static let unresolved = RouteFlags(rawValue: 0x20)
    /// `RTNH_F_TRAP`.
    public static let trap = RouteFlags(rawValue: 0x40)
    /// `RTM_F_NOTIFY`.
    public static let notify = RouteFlags(rawValue: 0x100)
    /// `RTM_F_CLONED`: a cache entry (what a route lookup answers with for IPv4).
    public static let cloned = RouteFlags(rawValue: 0x200)
    /// `RTM_F_LOOKUP_TABLE`: report the table the lookup used.
    public static let lookupTable = RouteFlags(rawValue: 0x1000)
    /// `RTM_F_FIB_MATCH`: answer with the matching FIB entry instead of the resolved route.
    public static let fibMatch = RouteFlags(rawValue: 0x2000)
    /// `RTM_F_OFFLOAD`.
    public static let routeOffload = RouteFlags(rawValue: 0x4000)
    /// `RTM_F_TRAP`.
    public static let routeTrap = RouteFlags(rawValue: 0x8000)
    /// `RTM_F_OFFLOAD_FAILED`.
    public static let routeOffloadFailed = RouteFlags(rawValue: 0x2000_0000)
}

/// One path of a route: the gateway, the device and, for multipath routes, the weight.
public struct NextHop: Hashable, Sendable {
    /// The gateway (`RTA_GATEWAY`), nil for a directly connected path.
    public var gateway: IPAddress?
    /// A gateway of the other family (`RTA_VIA`, for example an IPv4 route via an IPv6 next hop).
    public var via: IPAddress?
    /// The output interface index (`rtnh_ifindex` or `RTA_OIF`); 0 when none.
    public var interfaceIndex: UInt32
    /// The weight, 1...256 (`rtnh_hops + 1`).
    public var weight: Int
    /// The next-hop flags.
    public var flags: RouteFlags
    /// Realms (`RTA_FLOW`): the source realm in the high 16 bits, the destination realm in the low 16.
    public var realms: UInt32?

    /// Builds a next hop.
    public init(gateway: IPAddress? = nil, via: IPAddress? = nil, interfaceIndex: UInt32 = 0, weight: Int = 1,
                flags: RouteFlags = [], realms: UInt32? = nil) {
        self.gateway = gateway
        self.via = via
        self.interfaceIndex = interfaceIndex
        self.weight = weight
        self.flags = flags
        self.realms = realms
    }
}

/// The per-route TCP and path metrics (`RTA_METRICS`, `RTAX_*`), in the kernel's order.
public struct RouteMetrics: Hashable, Sendable {
    /// `RTAX_*` ids with their numeric values, ascending by id; `RTAX_CC_ALGO` is held in `congestionControl`.
    public var values: [(id: UInt16, value: UInt32)]
    /// The `RTAX_LOCK` bit mask (bit n locks metric n).
    public var lockMask: UInt32
    /// The congestion control algorithm name (`RTAX_CC_ALGO`).
    public var congestionControl: String?

    /// Builds a metrics set.
    public init(values: [(id: UInt16, value: UInt32)] = [], lockMask: UInt32 = 0, congestionControl: String? = nil) {
        self.values = values.sorted { $0.id < $1.id }
        self.lockMask = lockMask
        self.congestionControl = congestionControl
    }

    /// The value of one metric, if present.
    public func value(of id: UInt16) -> UInt32? { values.first { $0.id == id }?.value }

    /// `RTAX_MTU`.
    public static let mtu: UInt16 = 2
    /// `RTAX_ADVMSS`.
    public static let advertisedMSS: UInt16 = 8
    /// `RTAX_HOPLIMIT`.
    public static let hopLimit: UInt16 = 10
    /// `RTAX_FEATURES`.
    public static let features: UInt16 = 12
    /// `RTAX_CC_ALGO`.
    public static let congestionControlID: UInt16 = 16

    public static func == (lhs: RouteMetrics, rhs: RouteMetrics) -> Bool {
        lhs.lockMask == rhs.lockMask && lhs.congestionControl == rhs.congestionControl
            && lhs.values.map(\.id) == rhs.values.map(\.id) && lhs.values.map(\.value) == rhs.values.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(lockMask)
        hasher.combine(congestionControl)
        for (id, value) in values { hasher.combine(id); hasher.combine(value) }
    }
}

/// Cache information the kernel attaches to some routes (`struct rta_cacheinfo`).
public struct RouteCacheInfo: Hashable, Sendable {
    /// Remaining lifetime in clock ticks (USER_HZ), 0 when the route does not expire.
    public var expires: Int32
    /// The last error recorded for the route.
    public var error: UInt32
    /// `rta_id`.
    public var id: UInt32
    /// `rta_ts`.
    public var timestamp: UInt32
    /// `rta_tsage`.
    public var timestampAge: UInt32

    /// Builds cache information.
    public init(expires: Int32 = 0, error: UInt32 = 0, id: UInt32 = 0, timestamp: UInt32 = 0, timestampAge: UInt32 = 0) {
        self.expires = expires
        self.error = error
        self.id = id
        self.timestamp = timestamp
        self.timestampAge = timestampAge
    }
}
