/// Renders routes as the JSON objects `ip -j route` prints (iproute2 `print_route`), key for key and in the
/// same order, so that scripts written for iproute2 read routeprobe's output unchanged.
public struct IPRoute2RouteJSON: Sendable {
    /// How iproute2 would have been invoked, which decides a few keys.
    public struct Context: Sendable {
        /// True when a single table was asked for (`ip route show table N`): then the `table` key is omitted.
        public var tableFiltered: Bool
        /// True for a lookup (`ip route get`), where cached IPv4 routes are printed too.
        public var isLookup: Bool

        /// Builds a context.
        public init(tableFiltered: Bool = false, isLookup: Bool = false) {
            self.tableFiltered = tableFiltered
            self.isLookup = isLookup
        }
    }

    /// The names to print tables, protocols, scopes and realms with.
    public var names: IPRoute2Names
    /// Interface names by index.
    public var interfaceNames: [UInt32: String]
    /// The invocation context.
    public var context: Context

    /// JSON string literals (quoted, escaped) rendered once, since every route repeats them.
    private let quotedInterfaces: [UInt32: [UInt8]]
    private let quotedProtocols: [[UInt8]]
    private let quotedScopes: [[UInt8]]
    private let quotedTables: [UInt32: [UInt8]]

    /// Builds a renderer.
    public init(names: IPRoute2Names, interfaceNames: [UInt32: String], context: Context = Context()) {
        self.names = names
        self.interfaceNames = interfaceNames
        self.context = context
        func quoted(_ text: String) -> [UInt8] {
            var writer = ByteWriter(capacity: text.utf8.count + 2)
            writer.writeJSONString(text)
            return writer.bytes
        }
        quotedInterfaces = interfaceNames.mapValues(quoted)
        quotedProtocols = (0...255).map { quoted(names.protocolName(RouteProtocol(rawValue: UInt8($0)))) }
        quotedScopes = (0...255).map { quoted(names.scopeName(RouteScope(rawValue: UInt8($0)))) }
        quotedTables = names.tables.mapValues(quoted)
    }

    private func appendInterface(_ index: UInt32, to out: inout ByteWriter) {
        if let quoted = quotedInterfaces[index] { out.write(bytes: quoted) } else { out.writeJSONString(interfaceName(index)) }
    }

    /// The name `ll_index_to_name` would print: the interface name, `*` for 0, else `ifN`.
    public func interfaceName(_ index: UInt32) -> String {
        if index == 0 { return "*" }
        return interfaceNames[index] ?? "if\(index)"
    }

    /// Appends one route object. `deleted` adds `"deleted":true` as for an `RTM_DELROUTE` message.
    public func append(_ route: Route, deleted: Bool = false, to out: inout ByteWriter) {
        // "dst" is always present, so every key after it is written together with its leading comma.
        out.write(deleted ? "{\"deleted\":true," : "{")
        if route.type != .unicast {
            out.write("\"type\":")
            out.writeJSONString(route.type.name)
            out.write(byte: UInt8(ascii: ","))
        }
        out.write("\"dst\":")
        let hostLength = route.family.addressBitWidth
        if let destination = route.destinationAddress {
            appendPrefix(destination, length: route.destinationLength, hostLength: hostLength, to: &out)
        } else if route.destinationLength != 0 {
            out.write("\"0/")
            out.write(decimal: UInt64(route.destinationLength))
            out.write(" \"")
        } else {
            out.write("\"default\"")
        }
        if let source = route.sourceAddress {
            out.write(",\"from\":")
            appendPrefix(source, length: route.sourceLength, hostLength: hostLength, to: &out)
        } else if route.sourceLength != 0 {
            out.write(",\"src\":")
            out.write("\"0/")
            out.write(decimal: UInt64(route.sourceLength))
            out.write(byte: UInt8(ascii: "\""))
        }
        if let nextHopID = route.nextHopID {
            out.write(",\"nhid\":")
            out.write(decimal: UInt64(nextHopID))
        }
        if route.tos != 0 {
            out.write(",\"tos\":")
            out.writeJSONString(names.dsfieldName(route.tos))
        }
        if let gateway = route.gateway {
            out.write(",\"gateway\":")
            out.write(byte: UInt8(ascii: "\""))
            out.write(address: gateway)
            out.write(byte: UInt8(ascii: "\""))
        }
        if let via = route.via {
            out.write(",\"via\":")
            appendVia(via, to: &out)
        }
        if let outputInterface = route.outputInterface {
            out.write(",\"dev\":")
            appendInterface(outputInterface, to: &out)
        }
        if route.table.rawValue != 0, route.table != .main, !context.tableFiltered {
            out.write(",\"table\":")
            if let quoted = quotedTables[route.table.rawValue] { out.write(bytes: quoted) } else {
                out.write(byte: UInt8(ascii: "\""))
                out.write(decimal: UInt64(route.table.rawValue))
                out.write(byte: UInt8(ascii: "\""))
            }
        }
        if !route.flags.contains(.cloned) {
            if route.routeProtocol != .boot {
                out.write(",\"protocol\":")
                out.write(bytes: quotedProtocols[Int(route.routeProtocol.rawValue)])
            }
            if route.scope != .universe {
                out.write(",\"scope\":")
                out.write(bytes: quotedScopes[Int(route.scope.rawValue)])
            }
        }
        if let preferredSource = route.preferredSource {
            out.write(",\"prefsrc\":")
            out.write(byte: UInt8(ascii: "\""))
            out.write(address: preferredSource)
            out.write(byte: UInt8(ascii: "\""))
        }
        if let metric = route.metric {
            out.write(",\"metric\":")
            out.write(decimal: UInt64(metric))
        }
        out.write(",\"flags\":")
        appendFlags(route.flags, to: &out)
        if let mark = route.mark, mark != 0 {
            out.write(",\"mark\":")
            out.write(decimal: UInt64(mark))
        }
        if let realms = route.realms {
            out.write(",\"flow\":")
            appendFlow(realms, to: &out)
        }
        if let uid = route.uid {
            out.write(",\"uid\":")
            out.write(decimal: UInt64(uid))
        }
        if route.family == .inet, route.flags.contains(.cloned) {
            out.write(",\"cache\":")
            appendCacheFlags(route.flags.rawValue, to: &out)
        }
        if let cacheInfo = route.cacheInfo {
            if cacheInfo.expires != 0 {
                out.write(",\"expires\":")
                out.write(signed: Int64(cacheInfo.expires / 100))
            }
            if cacheInfo.error != 0 {
                out.write(",\"error\":")
                out.write(decimal: UInt64(cacheInfo.error))
            }
            if cacheInfo.id != 0 {
                out.write(",\"ipid\":")
                out.write("\"0x")
                out.write(hexPadded: UInt64(cacheInfo.id), minimumDigits: 4)
                out.write(byte: UInt8(ascii: "\""))
            }
            if cacheInfo.timestamp != 0 || cacheInfo.timestampAge != 0 {
                out.write(",\"ts\":")
                out.write("\"0x")
                out.write(hexPadded: UInt64(cacheInfo.timestamp), minimumDigits: 1)
                out.write(byte: UInt8(ascii: "\""))
                out.write(",\"tsage\":")
                out.write(decimal: UInt64(cacheInfo.timestampAge))
            }
        }
        if let metrics = route.metrics {
            out.write(",\"metrics\":")
            appendMetrics(metrics, to: &out)
        }
        if let inputInterface = route.inputInterface {
            out.write(",\"iif\":")
            out.writeJSONString(interfaceName(inputInterface))
        }
        if let preference = route.preference {
            out.write(",\"pref\":")
            switch preference {
            case 3: out.write("\"low\"")
            case 0: out.write("\"medium\"")
            case 1: out.write("\"high\"")
            default: out.write(decimal: UInt64(preference))
            }
        }
        if !route.multipath.isEmpty {
            out.write(",\"nexthops\":")
            out.write(byte: UInt8(ascii: "["))
            for (index, hop) in route.multipath.enumerated() {
                if index > 0 { out.write(byte: UInt8(ascii: ",")) }
                appendNextHop(hop, of: route, to: &out)
            }
            out.write(byte: UInt8(ascii: "]"))
        }
        out.write(byte: UInt8(ascii: "}"))
    }

    /// `"ADDRESS/LENGTH"`, or `"ADDRESS"` for a host prefix, as iproute2 writes destinations and sources.
    private func appendPrefix(_ address: IPAddress, length: UInt8, hostLength: Int, to out: inout ByteWriter) {
        out.write(byte: UInt8(ascii: "\""))
        out.write(address: address)
        if Int(length) != hostLength {
            out.write(byte: UInt8(ascii: "/"))
            out.write(decimal: UInt64(length))
        }
        out.write(byte: UInt8(ascii: "\""))
    }

    /// Appends a whole `ip -j route show` document: `[` objects `]` and a newline.
    public func appendDocument(_ routes: some Sequence<Route>, to out: inout ByteWriter) {
        out.write(byte: UInt8(ascii: "["))
        var first = true
        for route in routes {
            if !first { out.write(byte: UInt8(ascii: ",")) }
            first = false
            append(route, to: &out)
        }
        out.write("]\n")
    }

    private func appendNextHop(_ hop: NextHop, of route: Route, to out: inout ByteWriter) {
        out.write(byte: UInt8(ascii: "{"))
        if let gateway = hop.gateway {
            out.writeKey("gateway")
            out.write(byte: UInt8(ascii: "\""))
            out.write(address: gateway)
            out.write("\",")
        }
        if let via = hop.via {
            out.writeKey("via")
            appendVia(via, to: &out)
            out.write(byte: UInt8(ascii: ","))
        }
        if let realms = hop.realms {
            out.writeKey("flow")
            appendFlow(realms, to: &out)
            out.write(byte: UInt8(ascii: ","))
        }
        out.writeKey("dev")
        appendInterface(hop.interfaceIndex, to: &out)
        out.write(byte: UInt8(ascii: ","))
        out.writeKey("weight")
        out.write(decimal: UInt64(hop.weight))
        out.write(byte: UInt8(ascii: ","))
        out.writeKey("flags")
        appendFlags(hop.flags, to: &out)
        out.write(byte: UInt8(ascii: "}"))
    }

    private func appendVia(_ via: IPAddress, to out: inout ByteWriter) {
        out.write("{\"family\":")
        out.writeJSONString(via.family.description)
        out.write(",\"host\":\"")
        out.write(address: via)
        out.write("\"}")
    }

    private func appendFlow(_ realms: UInt32, to out: inout ByteWriter) {
        out.write(byte: UInt8(ascii: "{"))
        let from = realms >> 16, to = realms & 0xffff
        if from != 0 {
            out.writeKey("from")
            out.writeJSONString(names.realmName(from))
            out.write(byte: UInt8(ascii: ","))
        }
        out.writeKey("to")
        out.writeJSONString(names.realmName(to))
        out.write(byte: UInt8(ascii: "}"))
    }

    private func appendFlags(_ flags: RouteFlags, to out: inout ByteWriter) {
        out.write(byte: UInt8(ascii: "["))
        var first = true
        func flag(_ name: StaticString) {
            if !first { out.write(byte: UInt8(ascii: ",")) }
            first = false
            out.write(byte: UInt8(ascii: "\""))
            out.write(name)
            out.write(byte: UInt8(ascii: "\""))
        }
        let raw = flags.rawValue
        if raw & 0x1 != 0 { flag("dead") }
        if raw & 0x4 != 0 { flag("onlink") }
        if raw & 0x2 != 0 { flag("pervasive") }
        if raw & 0x8 != 0 { flag("offload") }
        if raw & 0x40 != 0 { flag("trap") }
        if raw & 0x100 != 0 { flag("notify") }
        if raw & 0x10 != 0 { flag("linkdown") }
        if raw & 0x20 != 0 { flag("unresolved") }
        if raw & 0x4000 != 0 { flag("rt_offload") }
        if raw & 0x8000 != 0 { flag("rt_trap") }
        if raw & 0x2000_0000 != 0 { flag("rt_offload_failed") }
        out.write(byte: UInt8(ascii: "]"))
    }

    /// `RTCF_*` bits of a cached IPv4 route, in iproute2's order.
    private func appendCacheFlags(_ rawFlags: UInt32, to out: inout ByteWriter) {
        let table: [(UInt32, StaticString)] = [
            (0x8000_0000, "local"), (0x4000_0000, "reject"), (0x2000_0000, "mc"), (0x1000_0000, "brd"),
            (0x0800_0000, "dst-nat"), (0x0080_0000, "src-nat"), (0x0040_0000, "masq"), (0x0002_0000, "dst-direct"),
            (0x0400_0000, "src-direct"), (0x0004_0000, "redirected"), (0x0100_0000, "redirect"),
            (0x0020_0000, "fastroute"), (0x0001_0000, "notify"), (0x0008_0000, "proxy"),
        ]
        out.write(byte: UInt8(ascii: "["))
        var first = true
        for (bit, name) in table where rawFlags & bit != 0 {
            if !first { out.write(byte: UInt8(ascii: ",")) }
            first = false
            out.write(byte: UInt8(ascii: "\""))
            out.write(name)
            out.write(byte: UInt8(ascii: "\""))
        }
        out.write(byte: UInt8(ascii: "]"))
    }

    private static let metricNames: [UInt16: StaticString] = [
        2: "mtu", 3: "window", 4: "rtt", 5: "rttvar", 6: "ssthresh", 7: "cwnd", 8: "advmss", 9: "reordering",
        10: "hoplimit", 11: "initcwnd", 12: "features", 13: "rto_min", 14: "initrwnd", 15: "quickack",
        16: "congctl", 17: "fastopen_no_cookie",
    ]

    private func appendMetrics(_ metrics: RouteMetrics, to out: inout ByteWriter) {
        out.write("[{")
        var first = true
        func key(_ name: StaticString) {
            if !first { out.write(byte: UInt8(ascii: ",")) }
            first = false
            out.writeKey(name)
        }
        // iproute2 walks ids 2...RTAX_MAX, printing present metrics and locked absent ones (as 0).
        var present: [UInt16: UInt32] = [:]
        for (id, value) in metrics.values { present[id] = value }
        let highest = max(17, Int(metrics.values.last?.id ?? 0))
        for id in 2...highest {
            let id = UInt16(id)
            let locked = id < 32 && metrics.lockMask & (1 << UInt32(id)) != 0
            if id == RouteMetrics.congestionControlID {
                if let algorithm = metrics.congestionControl {
                    key("congestion")
                    out.writeJSONString(algorithm)
                } else if locked {
                    key("congestion")
                    out.writeJSONString("")
                }
                continue
            }
            guard present[id] != nil || locked else { continue }
            var value = present[id] ?? 0
            if id == RouteMetrics.hopLimit, Int32(bitPattern: value) == -1 { continue }
            switch id {
            case RouteMetrics.features:
                if value & 0x1 != 0 {
                    key("ecn")
                    out.write("null")
                }
                if value & ~UInt32(1) != 0 {
                    key("features")
                    out.write("\"0x")
                    out.write(hexPadded: UInt64(value), minimumDigits: 1)
                    out.write(byte: UInt8(ascii: "\""))
                }
            default:
                if id == 4 { value /= 8 } else if id == 5 { value /= 4 }
                if let name = IPRoute2RouteJSON.metricNames[id] {
                    key(name)
                } else {
                    // iproute2 prints a null key for metrics it has no name for; keep the output valid JSON.
                    if !first { out.write(byte: UInt8(ascii: ",")) }
                    first = false
                    out.write("\"metric ")
                    out.write(decimal: UInt64(id))
                    out.write("\":")
                }
                out.write(decimal: UInt64(value))
            }
        }
        out.write("}]")
    }
}

extension ByteWriter {
    /// Appends lower-case hex digits, left-padded with zeros to `minimumDigits`.
    public mutating func write(hexPadded value: UInt64, minimumDigits: Int) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var reversed: [UInt8] = []
        var remaining = value
        repeat {
            reversed.append(digits[Int(remaining & 0xf)])
            remaining >>= 4
        } while remaining > 0
        while reversed.count < minimumDigits { reversed.append(UInt8(ascii: "0")) }
        bytes.append(contentsOf: reversed.reversed())
    }
}
