// Decoding link, address, neighbour and rule messages into the core's values.
import RouteprobeCore

/// Decodes `RTM_NEWLINK` (struct ifinfomsg + IFLA_* attributes).
func decodeLink(_ payload: UnsafeRawBufferPointer) throws(NetlinkError) -> Link {
    guard payload.count >= 16 else {
        throw NetlinkError.truncated(what: "struct ifinfomsg", needed: 16, available: payload.count)
    }
    var link = Link(index: payload.integer(at: 4, as: UInt32.self), name: "",
                    hardwareType: payload.integer(at: 2, as: UInt16.self), flags: payload.integer(at: 8, as: UInt32.self))
    try forEachAttribute(in: UnsafeRawBufferPointer(rebasing: payload[16...]), context: "link") { (type, value) throws(NetlinkError) in
        switch type {
        case 1: link.hardwareAddress = Array(value)                                 // IFLA_ADDRESS
        case 3: link.name = cString(value)                                          // IFLA_IFNAME
        case 4: link.mtu = try u32(value, name: "IFLA_MTU")                          // IFLA_MTU
        case 10: link.masterIndex = try u32(value, name: "IFLA_MASTER")             // IFLA_MASTER
        case 16: link.operationalState = value.first                                // IFLA_OPERSTATE
        case 18:                                                                    // IFLA_LINKINFO
            try forEachAttribute(in: value, context: "IFLA_LINKINFO") { (infoType, info) throws(NetlinkError) in
                if infoType == 1 { link.kind = cString(info) }                      // IFLA_INFO_KIND
            }
        default: break
        }
    }
    guard !link.name.isEmpty else { throw NetlinkError.malformed("link \(link.index) has no IFLA_IFNAME") }
    return link
}

/// Decodes `RTM_NEWADDR` (struct ifaddrmsg + IFA_* attributes); nil for families other than IPv4 and IPv6.
func decodeAddress(_ payload: UnsafeRawBufferPointer) throws(NetlinkError) -> InterfaceAddress? {
    guard payload.count >= 8 else {
        throw NetlinkError.truncated(what: "struct ifaddrmsg", needed: 8, available: payload.count)
    }
    guard let family = AddressFamily(rawValue: payload[0]) else { return nil }
    let prefixLength = Int(payload[1])
    guard prefixLength <= family.addressBitWidth else {
        throw NetlinkError.malformed("address prefix length /\(prefixLength) is too long for \(family)")
    }
    var addressAttribute: IPAddress? = nil, localAttribute: IPAddress? = nil, label: String? = nil
    try forEachAttribute(in: UnsafeRawBufferPointer(rebasing: payload[8...]), context: "address") { (type, value) throws(NetlinkError) in
        switch type {
        case 1: addressAttribute = try address(value, family: family, name: "IFA_ADDRESS")
        case 2: localAttribute = try address(value, family: family, name: "IFA_LOCAL")
        case 3: label = cString(value)
        default: break
        }
    }
    guard let local = localAttribute ?? addressAttribute else {
        throw NetlinkError.malformed("address message without IFA_LOCAL or IFA_ADDRESS")
    }
    let peer = (localAttribute != nil && addressAttribute != nil && addressAttribute != localAttribute) ? addressAttribute : nil
    return InterfaceAddress(interfaceIndex: payload.integer(at: 4, as: UInt32.self), address: local,
                            prefixLength: prefixLength, peer: peer, scope: RouteScope(rawValue: payload[3]), label: label)
}

/// Decodes `RTM_NEWNEIGH` (struct ndmsg + NDA_* attributes); nil for entries without an IP destination.
func decodeNeighbour(_ payload: UnsafeRawBufferPointer) throws(NetlinkError) -> Neighbour? {
    guard payload.count >= 12 else {
        throw NetlinkError.truncated(what: "struct ndmsg", needed: 12, available: payload.count)
    }
    guard let family = AddressFamily(rawValue: payload[0]) else { return nil }
    var destination: IPAddress? = nil, hardwareAddress: [UInt8] = []
    try forEachAttribute(in: UnsafeRawBufferPointer(rebasing: payload[12...]), context: "neighbour") { (type, value) throws(NetlinkError) in
        switch type {
        case 1: destination = try address(value, family: family, name: "NDA_DST")
        case 2: hardwareAddress = Array(value)
        default: break
        }
    }
    guard let destination else { return nil }
    return Neighbour(interfaceIndex: payload.integer(at: 4, as: UInt32.self), address: destination,
                     hardwareAddress: hardwareAddress, state: payload.integer(at: 8, as: UInt16.self))
}

/// Decodes `RTM_NEWRULE` (struct fib_rule_hdr + FRA_* attributes); nil for families other than IPv4 and IPv6.
func decodeRule(_ payload: UnsafeRawBufferPointer) throws(NetlinkError) -> PolicyRule? {
    guard payload.count >= 12 else {
        throw NetlinkError.truncated(what: "struct fib_rule_hdr", needed: 12, available: payload.count)
    }
    guard let family = AddressFamily(rawValue: payload[0]) else { return nil }
    let destinationLength = Int(payload[1]), sourceLength = Int(payload[2])
    var rule = PolicyRule(family: family, priority: 0, table: RouteTableID(rawValue: UInt32(payload[4])),
                          action: payload[7], inverted: payload.integer(at: 8, as: UInt32.self) & 0x2 != 0)
    try forEachAttribute(in: UnsafeRawBufferPointer(rebasing: payload[12...]), context: "rule") { (type, value) throws(NetlinkError) in
        switch type {
        case 1: rule.destination = IPPrefix(address: try address(value, family: family, name: "FRA_DST"), length: destinationLength)
        case 2: rule.source = IPPrefix(address: try address(value, family: family, name: "FRA_SRC"), length: sourceLength)
        case 3: rule.inputInterface = cString(value)
        case 6: rule.priority = try u32(value, name: "FRA_PRIORITY")
        case 10: rule.firewallMark = try u32(value, name: "FRA_FWMARK")
        case 15: rule.table = RouteTableID(rawValue: try u32(value, name: "FRA_TABLE"))
        case 17: rule.outputInterface = cString(value)
        default: break
        }
    }
    return rule
}

private func cString(_ value: UnsafeRawBufferPointer) -> String {
    String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
}
