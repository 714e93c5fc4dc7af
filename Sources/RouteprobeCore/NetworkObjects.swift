/// A network interface, from a link dump (`RTM_NEWLINK`).
public struct Link: Hashable, Sendable {
    /// The interface index.
    public var index: UInt32
    /// The interface name (`IFLA_IFNAME`).
    public var name: String
    /// The hardware type (`ifi_type`, `ARPHRD_*`): 1 Ethernet, 772 loopback, 768 IPIP, 65534 none (wireguard, tun).
    public var hardwareType: UInt16
    /// Interface flags (`ifi_flags`, `IFF_*`).
    public var flags: UInt32
    /// The MTU (`IFLA_MTU`).
    public var mtu: UInt32?
    /// The link-layer address (`IFLA_ADDRESS`).
    public var hardwareAddress: [UInt8]
    /// The driver kind (`IFLA_INFO_KIND`: `veth`, `bridge`, `vxlan`, `wireguard`, ...), when the link has one.
    public var kind: String?
    /// The index of the master device (`IFLA_MASTER`), for example the bridge of a bridge port.
    public var masterIndex: UInt32?
    /// The operational state (`IFLA_OPERSTATE`, RFC 2863: 6 up, 2 down, 0 unknown).
    public var operationalState: UInt8?

    /// Builds a link description.
    public init(index: UInt32, name: String, hardwareType: UInt16 = 1, flags: UInt32 = 0, mtu: UInt32? = nil,
                hardwareAddress: [UInt8] = [], kind: String? = nil, masterIndex: UInt32? = nil,
                operationalState: UInt8? = nil) {
        self.index = index
        self.name = name
        self.hardwareType = hardwareType
        self.flags = flags
        self.mtu = mtu
        self.hardwareAddress = hardwareAddress
        self.kind = kind
        self.masterIndex = masterIndex
        self.operationalState = operationalState
    }

    /// True when `IFF_UP` is set.
    public var isUp: Bool { flags & 0x1 != 0 }

    /// True for tunnel devices whose traffic is encapsulated (vxlan, ipip, gre, wireguard, ...).
    public var isTunnel: Bool {
        if let kind, ["vxlan", "ipip", "sit", "gre", "gretap", "ip6tnl", "ip6gre", "wireguard", "geneve", "tun"].contains(kind) {
            return true
        }
        return [768, 769, 776, 778, 823, 65534].contains(hardwareType)
    }

    /// The hardware address as `aa:bb:cc:dd:ee:ff`.
    public var hardwareAddressText: String { hardwareAddress.map { hex2($0) }.joined(separator: ":") }

    /// The link's MAC address, when its link-layer address is one (Ethernet, veth, bridges: 6 bytes).
    public var macAddress: HardwareAddress? { HardwareAddress(bytes: hardwareAddress) }
}

/// An address assigned to an interface, from an address dump (`RTM_NEWADDR`).
public struct InterfaceAddress: Hashable, Sendable {
    /// The interface index.
    public var interfaceIndex: UInt32
    /// The local address with its prefix length (`IFA_LOCAL`, else `IFA_ADDRESS`; `ifa_prefixlen`).
    public var prefix: IPPrefix
    /// The address itself, host bits kept.
    public var address: IPAddress
    /// The peer address of a point-to-point link (`IFA_ADDRESS` when it differs from `IFA_LOCAL`).
    public var peer: IPAddress?
    /// The scope (`ifa_scope`).
    public var scope: RouteScope
    /// The label (`IFA_LABEL`).
    public var label: String?

    /// Builds an interface address.
    public init(interfaceIndex: UInt32, address: IPAddress, prefixLength: Int, peer: IPAddress? = nil,
                scope: RouteScope = .universe, label: String? = nil) {
        self.interfaceIndex = interfaceIndex
        self.address = address
        self.prefix = IPPrefix(address: address, length: prefixLength) ?? IPPrefix(address: address, length: address.bitWidth)!
        self.peer = peer
        self.scope = scope
        self.label = label
    }
}

/// A neighbour (ARP or NDP) entry, from a neighbour dump (`RTM_NEWNEIGH`).
public struct Neighbour: Hashable, Sendable {
    /// The interface index.
    public var interfaceIndex: UInt32
    /// The neighbour's IP address (`NDA_DST`).
    public var address: IPAddress
    /// The neighbour's link-layer address (`NDA_LLADDR`), empty when unresolved.
    public var hardwareAddress: [UInt8]
    /// The NUD state bits (`ndm_state`: 0x01 incomplete, 0x02 reachable, 0x04 stale, 0x08 delay, 0x10 probe,
    /// 0x20 failed, 0x40 noarp, 0x80 permanent).
    public var state: UInt16

    /// Builds a neighbour entry.
    public init(interfaceIndex: UInt32, address: IPAddress, hardwareAddress: [UInt8], state: UInt16) {
        self.interfaceIndex = interfaceIndex
        self.address = address
        self.hardwareAddress = hardwareAddress
        self.state = state
    }

    /// The state as iproute2 names it (the highest state bit set).
    public var stateName: String {
        let names: [(UInt16, String)] = [(0x80, "PERMANENT"), (0x40, "NOARP"), (0x20, "FAILED"), (0x10, "PROBE"),
                                         (0x08, "DELAY"), (0x04, "STALE"), (0x02, "REACHABLE"), (0x01, "INCOMPLETE")]
        return names.first { state & $0.0 != 0 }?.1 ?? "NONE"
    }
}

/// A policy routing rule, from a rule dump (`RTM_NEWRULE`).
public struct PolicyRule: Hashable, Sendable {
    /// The address family.
    public var family: AddressFamily
    /// The rule's priority (`FRA_PRIORITY`); lower runs first.
    public var priority: UInt32
    /// The source selector (`FRA_SRC` with `src_len`), nil for any.
    public var source: IPPrefix?
    /// The destination selector (`FRA_DST` with `dst_len`), nil for any.
    public var destination: IPPrefix?
    /// The table the rule sends lookups to (`FRA_TABLE`, else the header's table).
    public var table: RouteTableID
    /// The rule's action (`FR_ACT_*`: 1 to table, 6 blackhole, 7 unreachable, 8 prohibit).
    public var action: UInt8
    /// The input interface name (`FRA_IIFNAME`).
    public var inputInterface: String?
    /// The output interface name (`FRA_OIFNAME`).
    public var outputInterface: String?
    /// The firewall mark to match (`FRA_FWMARK`).
    public var firewallMark: UInt32?
    /// The rule is inverted (`FIB_RULE_INVERT`).
    public var inverted: Bool

    /// Builds a rule.
    public init(family: AddressFamily, priority: UInt32, source: IPPrefix? = nil, destination: IPPrefix? = nil,
                table: RouteTableID, action: UInt8 = 1, inputInterface: String? = nil, outputInterface: String? = nil,
                firewallMark: UInt32? = nil, inverted: Bool = false) {
        self.family = family
        self.priority = priority
        self.source = source
        self.destination = destination
        self.table = table
        self.action = action
        self.inputInterface = inputInterface
        self.outputInterface = outputInterface
        self.firewallMark = firewallMark
        self.inverted = inverted
    }
}

func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
}
