import RouteprobeCommandSupport
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem

/// `routeprobe routes`: the node's routing tables, for people, for scripts (iproute2's JSON) or as counts.
struct RoutesCommand: Tool {
    static let tool = ToolDescription(
        path: ["routes"],
        abstract: "Show the kernel routing tables.",
        discussion: """
            Reads the tables over netlink. --json prints exactly what `ip -j route show` prints (same keys, \
            values and order), so `routeprobe routes --table all --family inet --json` equals \
            `ip -j -4 route show table all`. --summary reads and parses every route but prints only counts \
            per family, table and type.
            """,
        options: [
            ToolOption("table", .value(placeholder: "table"), help: "Table to show: all, main, local, default, a name from /etc/iproute2/rt_tables, or a number.", default: "main"),
            ToolOption("family", .value(placeholder: "family"), help: "Address family: inet, inet6 or all. Default: inet for one table, all for --table all (as ip does)."),
            ToolOption("json", .flag, help: "Print iproute2-compatible JSON."),
            ToolOption("summary", .flag, help: "Print only route counts per family, table and type."),
            ToolOption("netns", .value(placeholder: "netns"), help: "Read the tables of this network namespace (a name from `ip netns` or a path)."),
        ])

    var table: String
    var family: String?
    var json: Bool
    var summary: Bool
    var netns: String?

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        table = line.value("table") ?? "main"
        family = line.value("family")
        json = line.flag("json")
        summary = line.flag("summary")
        netns = line.value("netns")
        if json && summary { throw Self.tool.usage("--json and --summary cannot be combined") }
    }

    func run() throws {
        let names = IPRoute2Names.loadSystem()
        let tableFilter: RouteTableID?
        if table == "all" {
            tableFilter = nil
        } else if let id = names.tableID(named: table) {
            tableFilter = id
        } else {
            throw CommandFailure.usage("unknown table '\(table)': use all, main, local, default, a number, or a name from /etc/iproute2/rt_tables")
        }
        let families: AddressFamily?
        switch family {
        case nil: families = tableFilter == nil ? nil : .inet
        case "inet", "4", "ipv4": families = .inet
        case "inet6", "6", "ipv6": families = .inet6
        case "all": families = nil
        case let other?: throw CommandFailure.usage("unknown family '\(other)': use inet, inet6 or all")
        }
        let socket = try openRoutingSocket(netns: netns)
        let selected: (Route) -> Bool = { route in
            !route.flags.contains(.cloned) && (tableFilter == nil || route.table == tableFilter)
        }

        if summary {
            let counts = try netlink { () throws(NetlinkError) in
                try socket.forEachRoute(family: families, into: RouteSummary()) { summary, route in
                    if selected(route) { summary.add(route) }
                }
            }
            writeToStandardOutput(counts.render(names: names))
            return
        }

        let interfaceNames = try netlink { () throws(NetlinkError) in try socket.interfaceNames() }
        if json {
            let renderer = IPRoute2RouteJSON(names: names, interfaceNames: interfaceNames,
                                              context: .init(tableFiltered: tableFilter != nil))
            // The document is built whole before it is written: a dump that has to be repeated must not
            // leave half a table on stdout.
            let output = try netlink { () throws(NetlinkError) in
                try socket.forEachRoute(family: families, into: JSONDocument()) { document, route in
                    if selected(route) { document.append(route, with: renderer) }
                }
            }
            output.write()
            return
        }

        let routes = try netlink { () throws(NetlinkError) in try socket.routes(family: families) }.filter(selected)
        writeToStandardOutput(RouteText(names: names, interfaceNames: interfaceNames).table(routes))
    }
}

/// An `ip -j` document being built: `[`, objects separated by commas, `]`. It is held in 1 MiB chunks, so a
/// million routes never cost a copy of the whole document as it grows.
struct JSONDocument {
    private static let chunkSize = 1 << 20
    private var chunks: [[UInt8]] = []
    private var writer = ByteWriter(capacity: JSONDocument.chunkSize + 4096)
    private var empty = true

    init() { writer.write(byte: UInt8(ascii: "[")) }

    mutating func append(_ route: Route, with renderer: IPRoute2RouteJSON) {
        if !empty { writer.write(byte: UInt8(ascii: ",")) }
        empty = false
        renderer.append(route, to: &writer)
        if writer.count >= JSONDocument.chunkSize {
            chunks.append(writer.bytes)
            writer = ByteWriter(capacity: JSONDocument.chunkSize + 4096)
        }
    }

    /// Closes the document and writes it, chunk by chunk.
    consuming func write() {
        writer.write("]\n")
        chunks.append(writer.bytes)
        for chunk in chunks { writeToStandardOutput(chunk) }
    }
}
