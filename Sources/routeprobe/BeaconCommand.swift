import ArgumentParser
import RouteprobeProbing

/// `routeprobe beacon`: the responder every pod CIDR runs, so probes have a known target.
struct BeaconCommand: ParsableCommand {
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

    func run() throws {
        let beacon: Beacon
        do { beacon = try Beacon(port: listen) } catch { throw CommandFailure(error.description) }
        let stop = StopFlag()
        let signals = StopSignals { stop.set() }
        defer { signals.cancel() }
        do { try beacon.serve(until: { stop.isSet }) } catch { throw CommandFailure(error.description) }
    }
}
