import RouteprobeCommandSupport
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem

/// `routeprobe route`: a group for single-route questions.
enum RouteCommand {
    static let tool = ToolDescription(path: ["route"], abstract: "Ask the kernel about one route.", subtools: [RouteGetCommand.tool])
}

/// `routeprobe route get ADDR`: the kernel's own lookup, as `ip route get` does it.
struct RouteGetCommand: Tool {
    static let tool = ToolDescription(
        path: ["route", "get"],
        abstract: "Show the route the kernel would use for an address.",
        discussion: """
            Performs one kernel FIB lookup (RTM_GETROUTE), so policy rules, --from and --iif count. --json \
            prints the same fields as `ip -j route get`. Exits 1 when the kernel has no usable route.
            """,
        arguments: [ToolArgument("address", help: "The destination address (IPv4 or IPv6).")],
        options: [
            ToolOption("from", .value(placeholder: "from"), help: "Source address of the flow (selects policy rules that match on 'from')."),
            ToolOption("iif", .value(placeholder: "iif"), help: "Input interface, to look the route up as if the packet arrived there (needs --from)."),
            ToolOption("json", .flag, help: "Print iproute2-compatible JSON."),
            ToolOption("netns", .value(placeholder: "netns"), help: "Look up in this network namespace (a name from `ip netns` or a path)."),
        ])

    var address: String
    var from: String?
    var iif: String?
    var json: Bool
    var netns: String?

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        address = line.positionals[0]
        from = line.value("from")
        iif = line.value("iif")
        json = line.flag("json")
        netns = line.value("netns")
    }

    func run() throws {
        let destination = try parseAddress(address, option: "address")
        let source = try from.map { try parseAddress($0, option: "--from") }
        if let source, source.family != destination.family {
            throw CommandFailure.usage("--from \(source) and \(destination) are of different address families")
        }
        let socket = try openRoutingSocket(netns: netns)
        let interfaceNames = try netlink { () throws(NetlinkError) in try socket.interfaceNames() }
        var inputIndex: UInt32? = nil
        if let iif {
            guard let index = interfaceNames.first(where: { $0.value == iif })?.key else {
                throw CommandFailure.usage("--iif: no interface named '\(iif)'")
            }
            inputIndex = index
        }
        let route = try netlink { () throws(NetlinkError) in
            try socket.lookup(destination, from: source, inputInterface: inputIndex)
        }
        let names = IPRoute2Names.loadSystem()
        if json {
            var writer = ByteWriter()
            IPRoute2RouteJSON(names: names, interfaceNames: interfaceNames, context: .init(isLookup: true))
                .appendDocument([route], to: &writer)
            writeToStandardOutput(writer.bytes)
        } else {
            writeToStandardOutput(RouteText(names: names, interfaceNames: interfaceNames).line(route) + "\n")
        }
    }
}
