// Decoding RTM_NEWROUTE / RTM_DELROUTE payloads (struct rtmsg + RTA_* attributes) into Route values.
import RouteprobeCore

/// `RTA_*` attribute types of a route message.
enum RTA {
    static let destination: UInt16 = 1     // RTA_DST
    static let source: UInt16 = 2          // RTA_SRC
    static let inputInterface: UInt16 = 3  // RTA_IIF
    static let outputInterface: UInt16 = 4 // RTA_OIF
    static let gateway: UInt16 = 5         // RTA_GATEWAY
    static let priority: UInt16 = 6        // RTA_PRIORITY
    static let preferredSource: UInt16 = 7 // RTA_PREFSRC
    static let metrics: UInt16 = 8         // RTA_METRICS
    static let multipath: UInt16 = 9       // RTA_MULTIPATH
    static let flow: UInt16 = 11           // RTA_FLOW
    static let cacheInfo: UInt16 = 12      // RTA_CACHEINFO
    static let table: UInt16 = 15          // RTA_TABLE
    static let mark: UInt16 = 16           // RTA_MARK
    static let via: UInt16 = 18            // RTA_VIA
    static let preference: UInt16 = 20     // RTA_PREF
    static let uid: UInt16 = 25            // RTA_UID
    static let nextHopID: UInt16 = 30      // RTA_NH_ID
}

/// The size of `struct rtmsg`.
let routeMessageHeaderSize = 12
/// The size of `struct rtnexthop`.
let nextHopHeaderSize = 8
/// The size of `struct rta_cacheinfo`.
let cacheInfoSize = 32

/// Decodes one route message payload. Returns nil for families other than IPv4 and IPv6 (the multicast
/// routing and MPLS tables an AF_UNSPEC dump also returns).
func decodeRoute(_ payload: UnsafeRawBufferPointer) throws(NetlinkError) -> Route? {
    guard payload.count >= routeMessageHeaderSize else {
        throw NetlinkError.truncated(what: "struct rtmsg", needed: routeMessageHeaderSize, available: payload.count)
    }
    guard let family = AddressFamily(rawValue: payload[0]) else { return nil }
    let destinationLength = payload[1], sourceLength = payload[2]
    guard Int(destinationLength) <= family.addressBitWidth, Int(sourceLength) <= family.addressBitWidth else {
        throw NetlinkError.malformed("route prefix length /\(destinationLength) from /\(sourceLength) is too long for \(family)")
    }
    var route = Route(
        family: family,
        type: RouteType(rawValue: payload[7]),
        destinationLength: destinationLength,
        sourceLength: sourceLength,
        tos: payload[3],
        table: RouteTableID(rawValue: UInt32(payload[4])),
        routeProtocol: RouteProtocol(rawValue: payload[5]),
        scope: RouteScope(rawValue: payload[6]),
        flags: RouteFlags(rawValue: payload.integer(at: 8, as: UInt32.self))
    )
    let attributes = UnsafeRawBufferPointer(rebasing: payload[routeMessageHeaderSize...])
    try forEachAttribute(in: attributes, context: "route") { (type, value) throws(NetlinkError) in
        switch type {
        case RTA.destination: route.destinationAddress = try address(value, family: family, name: "RTA_DST")
        case RTA.source: route.sourceAddress = try address(value, family: family, name: "RTA_SRC")
        case RTA.gateway: route.gateway = try address(value, family: family, name: "RTA_GATEWAY")
        case RTA.preferredSource: route.preferredSource = try address(value, family: family, name: "RTA_PREFSRC")
        case RTA.via: route.via = try viaAddress(value)
        case RTA.inputInterface: route.inputInterface = try u32(value, name: "RTA_IIF")
        case RTA.outputInterface: route.outputInterface = try u32(value, name: "RTA_OIF")
        case RTA.priority: route.metric = try u32(value, name: "RTA_PRIORITY")
        case RTA.table: route.table = RouteTableID(rawValue: try u32(value, name: "RTA_TABLE"))
        case RTA.mark: route.mark = try u32(value, name: "RTA_MARK")
        case RTA.flow: route.realms = try u32(value, name: "RTA_FLOW")
        case RTA.uid: route.uid = try u32(value, name: "RTA_UID")
        case RTA.nextHopID: route.nextHopID = try u32(value, name: "RTA_NH_ID")
        case RTA.preference:
            guard value.count >= 1 else { throw NetlinkError.truncated(what: "RTA_PREF", needed: 1, available: 0) }
            route.preference = value[0]
        case RTA.cacheInfo:
            guard value.count >= cacheInfoSize else {
                throw NetlinkError.truncated(what: "RTA_CACHEINFO", needed: cacheInfoSize, available: value.count)
            }
            route.cacheInfo = RouteCacheInfo(
                expires: value.integer(at: 8), error: value.integer(at: 12), id: value.integer(at: 20),
                timestamp: value.integer(at: 24), timestampAge: value.integer(at: 28))
        case RTA.metrics: route.metrics = try decodeMetrics(value)
        case RTA.multipath: route.multipath = try decodeMultipath(value, family: family)
        default: break
        }
    }
    return route
}

@inline(__always)
func u32(_ value: UnsafeRawBufferPointer, name: StaticString) throws(NetlinkError) -> UInt32 {
    guard value.count >= 4 else { throw NetlinkError.truncated(what: "\(name)", needed: 4, available: value.count) }
    return value.integer(at: 0, as: UInt32.self)
}

@inline(__always)
func address(_ value: UnsafeRawBufferPointer, family: AddressFamily, name: StaticString) throws(NetlinkError) -> IPAddress {
    if family == .inet, value.count == 4 {
        return .v4(UInt32(bigEndian: value.loadUnaligned(as: UInt32.self)))
    }
    if family == .inet6, value.count == 16 {
        return .v6(UInt64(bigEndian: value.loadUnaligned(as: UInt64.self)),
                   UInt64(bigEndian: value.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }
    throw NetlinkError.malformed("\(name) holds \(value.count) bytes, not a \(family) address")
}

/// `struct rtvia`: a 2-byte family, then the address.
private func viaAddress(_ value: UnsafeRawBufferPointer) throws(NetlinkError) -> IPAddress {
    guard value.count >= 2 else { throw NetlinkError.truncated(what: "RTA_VIA", needed: 2, available: value.count) }
    let rawFamily = UInt8(truncatingIfNeeded: value.integer(at: 0, as: UInt16.self))
    guard let family = AddressFamily(rawValue: rawFamily) else {
        throw NetlinkError.malformed("RTA_VIA has unsupported family \(rawFamily)")
    }
    return try address(UnsafeRawBufferPointer(rebasing: value[2...]), family: family, name: "RTA_VIA")
}

private func decodeMetrics(_ value: UnsafeRawBufferPointer) throws(NetlinkError) -> RouteMetrics {
    var values: [(id: UInt16, value: UInt32)] = []
    var lockMask: UInt32 = 0
    var congestionControl: String? = nil
    try forEachAttribute(in: value, context: "RTA_METRICS") { (type, payload) throws(NetlinkError) in
        switch type {
        case 1: lockMask = try u32(payload, name: "RTAX_LOCK")
        case RouteMetrics.congestionControlID:
            congestionControl = String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
        default: values.append((type, try u32(payload, name: "RTAX metric")))
        }
    }
    return RouteMetrics(values: values, lockMask: lockMask, congestionControl: congestionControl)
}

private func decodeMultipath(_ value: UnsafeRawBufferPointer, family: AddressFamily) throws(NetlinkError) -> [NextHop] {
    var hops: [NextHop] = []
    var offset = 0
    while offset < value.count {
        let remaining = value.count - offset
        guard remaining >= nextHopHeaderSize else {
            throw NetlinkError.truncated(what: "struct rtnexthop", needed: nextHopHeaderSize, available: remaining)
        }
        let length = Int(value.integer(at: offset, as: UInt16.self))
        guard length >= nextHopHeaderSize else {
            throw NetlinkError.malformed("rtnexthop length \(length) is shorter than its 8-byte header")
        }
        guard length <= remaining else {
            throw NetlinkError.truncated(what: "rtnexthop", needed: length, available: remaining)
        }
        var hop = NextHop(
            interfaceIndex: value.integer(at: offset + 4, as: UInt32.self),
            weight: Int(value[offset + 3]) + 1,
            flags: RouteFlags(rawValue: UInt32(value[offset + 2]))
        )
        let attributes = UnsafeRawBufferPointer(rebasing: value[(offset + nextHopHeaderSize)..<(offset + length)])
        try forEachAttribute(in: attributes, context: "rtnexthop") { (type, payload) throws(NetlinkError) in
            switch type {
            case RTA.gateway: hop.gateway = try address(payload, family: family, name: "RTA_GATEWAY")
            case RTA.via: hop.via = try viaAddress(payload)
            case RTA.flow: hop.realms = try u32(payload, name: "RTA_FLOW")
            default: break
            }
        }
        hops.append(hop)
        offset += align4(length)
    }
    return hops
}
