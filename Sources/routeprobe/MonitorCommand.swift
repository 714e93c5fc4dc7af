import Dispatch
import Synchronization
import RouteprobeCommandSupport
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem

/// `routeprobe monitor`: route changes as they happen, one line each.
struct MonitorCommand: Tool {
    static let tool = ToolDescription(
        path: ["monitor"],
        abstract: "Print route changes as they happen, like `ip monitor route`.",
        discussion: """
            One line per added or deleted route. If the kernel drops notifications because they came too \
            fast, the table is read again and printed as a resync, so no change is silently lost. Stops on \
            SIGINT or SIGTERM.
            """,
        options: [
            ToolOption("json", .flag, help: "Print one iproute2-style JSON object per line (deletions carry \"deleted\":true)."),
            ToolOption("family", .value(placeholder: "family"), help: "Address family to watch: inet, inet6 or all.", default: "all"),
            ToolOption("netns", .value(placeholder: "netns"), help: "Watch this network namespace (a name from `ip netns` or a path)."),
        ])

    var json: Bool
    var family: String
    var netns: String?

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        json = line.flag("json")
        family = line.value("family") ?? "all"
        netns = line.value("netns")
    }

    func run() throws {
        let families: Set<AddressFamily>
        switch family {
        case "inet", "4": families = [.inet]
        case "inet6", "6": families = [.inet6]
        case "all": families = [.inet, .inet6]
        default: throw CommandFailure.usage("unknown family '\(family)': use inet, inet6 or all")
        }
        let namespace = netns.map(NetworkNamespace.init)
        let monitor = try netlink { () throws(NetlinkError) in try RouteMonitor(families: families, namespace: namespace) }
        let interfaceNames = try netlink { () throws(NetlinkError) in
            try RoutingSocket(namespace: namespace).interfaceNames()
        }
        let names = IPRoute2Names.loadSystem()
        let renderer = IPRoute2RouteJSON(names: names, interfaceNames: interfaceNames)
        let text = RouteText(names: names, interfaceNames: interfaceNames)
        let signals = StopSignals { monitor.stop() }
        defer { signals.cancel() }
        // The events arrive as an asynchronous sequence; this thread waits while a task prints them.
        let finished = DispatchSemaphore(value: 0)
        let failure = Mutex<NetlinkError?>(nil)
        let events = monitor.events()
        Task {
            do {
                for try await event in events {
                    var writer = ByteWriter(capacity: 256)
                    switch event {
                    case .added(let route):
                        if json { renderer.append(route, to: &writer); writer.write("\n") } else { writer.write(string: text.line(route) + "\n") }
                    case .deleted(let route):
                        if json { renderer.append(route, deleted: true, to: &writer); writer.write("\n") } else {
                            writer.write(string: text.line(route, deleted: true) + "\n")
                        }
                    case .resync(let routes):
                        if json {
                            writer.write("{\"resync\":true,\"routes\":")
                            renderer.appendDocument(routes, to: &writer)
                            writer.bytes.removeLast()
                            writer.write("}\n")
                        } else {
                            writer.write(string: "Resync: notifications were lost, the table was read again (\(routes.count) routes)\n")
                            for route in routes { writer.write(string: text.line(route) + "\n") }
                        }
                    }
                    writeToStandardOutput(writer.bytes)
                }
            } catch let error as NetlinkError {
                failure.withLock { $0 = error }
            } catch {}
            finished.signal()
        }
        finished.wait()
        if let error = failure.withLock({ $0 }) { throw error.failure }
    }
}
