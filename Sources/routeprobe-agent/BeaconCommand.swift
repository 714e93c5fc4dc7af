import RouteprobeCommandSupport
import Logging
import RouteprobeAgent
import RouteprobeProbing
import ServiceLifecycle

/// `routeprobe beacon`: the responder every pod CIDR runs, so probes have a known target.
struct BeaconCommand: ServiceTool {
    static let tool = ToolDescription(
        path: ["beacon"],
        abstract: "Answer TCP probes: accept every connection and close it at once.",
        discussion: "Runs in the pod network (a DaemonSet pod). Offers nothing else. Stops on SIGINT or SIGTERM.",
        options: [ToolOption("listen", .value(placeholder: "listen"), help: "TCP port to listen on (all addresses, IPv4 and IPv6).", default: "9700")])

    var listen: UInt16

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        listen = try line.integer("listen", in: UInt16(1)...UInt16.max, default: 9700, tool: Self.tool)!
    }

    func run() async throws {
        let beacon: Beacon
        do { beacon = try Beacon(port: listen) } catch { throw CommandFailure(error.description) }
        unblockStopSignals()
        var logger = Logger(label: "routeprobe.beacon")
        logger.logLevel = .warning
        let group = ServiceGroup(services: [BeaconService(beacon: beacon)], gracefulShutdownSignals: [.sigterm, .sigint],
                                 cancellationSignals: [], logger: logger)
        do { try await group.run() } catch let error as ProbeError { throw CommandFailure(error.description) }
    }
}
