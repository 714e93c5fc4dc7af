/// Renders routes for people: a table with one line per route (or per path of a multipath route).
public struct RouteText: Sendable {
    /// Names for tables, protocols and scopes.
    public var names: IPRoute2Names
    /// Interface names by index.
    public var interfaceNames: [UInt32: String]

    /// Builds a renderer.
    public init(names: IPRoute2Names, interfaceNames: [UInt32: String]) {
        self.names = names
        self.interfaceNames = interfaceNames
    }

    /// The destination as people write it: `default`, a host address, or a prefix.
    public func destinationText(_ route: Route) -> String {
        guard let address = route.destinationAddress else {
            return route.destinationLength == 0 ? "default" : "0/\(route.destinationLength)"
        }
        return Int(route.destinationLength) == address.bitWidth ? address.description : "\(address)/\(route.destinationLength)"
    }

    /// The table of routes, with a header line.
    public func table(_ routes: [Route]) -> String {
        var rows: [[String]] = [["DESTINATION", "TYPE", "VIA", "DEV", "TABLE", "PROTO", "SCOPE", "METRIC", "SRC"]]
        for route in routes {
            let hops = route.nextHops
            let first = hops.first
            rows.append([
                destinationText(route) + (route.sourceAddress.map { " from \($0)/\(route.sourceLength)" } ?? ""),
                route.type.name,
                hopGateway(first) ?? "-",
                first.map { interfaceName($0.interfaceIndex) } ?? "-",
                names.tableName(route.table),
                names.protocolName(route.routeProtocol),
                names.scopeName(route.scope),
                route.metric.map(String.init) ?? "-",
                route.preferredSource?.description ?? "-",
            ])
            if hops.count > 1 {
                for hop in hops.dropFirst() {
                    rows.append(["", "", hopGateway(hop) ?? "-", interfaceName(hop.interfaceIndex), "", "", "", "", ""])
                }
            }
            if route.multipath.count > 1 {
                let weights = route.multipath.map { String($0.weight) }.joined(separator: "/")
                rows[rows.count - route.multipath.count][2] += " (weights \(weights))"
            }
        }
        return TextTable.render(rows)
    }

    /// One line in the style of `ip route`, used by the monitor.
    public func line(_ route: Route, deleted: Bool = false) -> String {
        var parts: [String] = []
        if deleted { parts.append("Deleted") }
        if route.type != .unicast { parts.append(route.type.name) }
        parts.append(destinationText(route))
        if let gateway = route.gateway { parts.append("via \(gateway)") }
        if let outputInterface = route.outputInterface { parts.append("dev \(interfaceName(outputInterface))") }
        if route.table != .main { parts.append("table \(names.tableName(route.table))") }
        if !route.flags.contains(.cloned) {
            if route.routeProtocol != .boot { parts.append("proto \(names.protocolName(route.routeProtocol))") }
            if route.scope != .universe { parts.append("scope \(names.scopeName(route.scope))") }
        }
        if let source = route.preferredSource { parts.append("src \(source)") }
        if let metric = route.metric { parts.append("metric \(metric)") }
        for hop in route.multipath {
            var text = "nexthop"
            if let gateway = hop.gateway { text += " via \(gateway)" }
            text += " dev \(interfaceName(hop.interfaceIndex)) weight \(hop.weight)"
            parts.append(text)
        }
        return parts.joined(separator: " ")
    }

    private func hopGateway(_ hop: NextHop?) -> String? {
        guard let hop else { return nil }
        return hop.gateway?.description ?? hop.via?.description
    }

    private func interfaceName(_ index: UInt32) -> String {
        index == 0 ? "-" : interfaceNames[index] ?? "if\(index)"
    }
}
