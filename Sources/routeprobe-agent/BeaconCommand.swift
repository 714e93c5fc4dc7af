import ArgumentParser
import RouteprobeCommandSupport
import Logging
import RouteprobeAgent
import RouteprobeProbing
import ServiceLifecycle

/// `routeprobe beacon`: the responder every pod CIDR runs, so probes have a known target.
struct BeaconCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "beacon",
        abstract: "Answer TCP probes: accept every connection and close it at once.",
        discussion: "Runs in the pod network (a DaemonSet pod). Offers nothing else. Stops on SIGINT or SIGTERM."
    )

    @Option(name: .long, help: "TCP port to listen on (all addresses, IPv4 and IPv6).")
    var listen: UInt16 = 9700

    func validate() throws {
        if listen == 0 { throw ValidationError("--listen must be a port from 1 to 65535") }
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
