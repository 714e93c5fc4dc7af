import ArgumentParser
import RouteprobeCommandSupport
import Foundation
import Logging
import RouteprobeAggregator
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeKubernetes
import ServiceLifecycle

/// `routeprobe aggregator`: correlates the agents' reports into cluster findings.
struct AggregatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregator",
        abstract: "Plan the agents' probes, correlate their reports, and name the missing VPC route entries.",
        discussion: """
            Agents started with --aggregator URL --token-file FILE register, fetch their probe plan (each pod \
            CIDR gets --sources-per-cidr sources, chosen by rendezvous hashing) and post a report every \
            round. Findings (vpcRouteMissing, vpcRouteWrongNextHop, kernelRouteMissing, kernelRouteWrong, \
            rejectedByRouter, nodeUnreachable, sourceLocal, vpcRouteStale, vpcRouteOverlap) open and resolve \
            with one syslog alert each. HTTP: /api/v1/register, /api/v1/plan/NODE, /api/v1/reports, \
            /api/v1/findings, /api/v1/matrix (all with the bearer token), /metrics, /healthz and / (the page). \
            State lives in memory and is rebuilt from the agents after a restart. Stops on SIGINT or SIGTERM.
            """
    )

    @Option(name: .long, help: "Address and port to listen on (default 0.0.0.0:9800).")
    var listen: String = "0.0.0.0:9800"

    @Option(name: .long, help: "File holding the bearer token agents must present (required).")
    var tokenFile: String

    @Option(name: .long, help: "Cluster map file: nodes known before they register (optional).")
    var clusterMap: String?

    @Option(name: .long, help: "Sources that probe each pod CIDR (K, default 3).")
    var sourcesPerCidr: Int = 3

    @Flag(name: .long, help: "Every node probes every other node (small clusters).")
    var fullMesh = false

    @Option(name: .long, help: "Where alerts go: local (/dev/log), unix:PATH, udp:HOST:PORT or tcp:HOST:PORT (default local).")
    var syslog: String = "local"

    @Option(name: .long, help: "VPC route table JSON (aws ec2 describe-route-tables, Alibaba DescribeRouteEntryList); re-read when it changes.")
    var vpcRouteTable: String?

    @Option(name: .long, help: "Reports older than this no longer count (default 30s).")
    var window: String = "30s"

    @Option(name: .long, help: "How often findings are evaluated (default 1s).")
    var evaluationInterval: String = "1s"

    @Option(name: .long, help: "Largest request body accepted, in bytes (default 1048576).")
    var maxBodyBytes: Int = 1 << 20

    @Flag(name: .long, help: "Discover nodes from the API server with the pod's service account (in a cluster).")
    var kubernetes = false

    @Option(name: .long, help: "Discover nodes from the API server of this kubeconfig file (outside a cluster).")
    var kubeconfig: String?

    @Option(name: .long, help: "The kubeconfig context to use (default: its current-context).")
    var kubeContext: String?

    @Flag(name: .long, help: "Create Events (VpcRouteMissing, PodCIDRUnreachable) on the affected Node; needs --kubernetes or --kubeconfig and deploy/optional/events-rbac.yaml.")
    var events = false

    func run() async throws {
        guard let (parsedAddress, parsedPort) = IPAddress.parseEndpoint(listen) else {
            throw CommandFailure.usage("--listen '\(listen)' must be ADDR:PORT, e.g. 0.0.0.0:9800 or [::]:9800")
        }
        let token: String
        do {
            token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw CommandFailure.usage("cannot read --token-file \(tokenFile): \((error as NSError).localizedDescription)")
        }
        if token.isEmpty { throw CommandFailure.usage("--token-file \(tokenFile) is empty") }
        if token.contains(where: { $0.isWhitespace }) { throw CommandFailure.usage("--token-file \(tokenFile): the token must be one word") }
        var map: ClusterMap? = nil
        if let clusterMap {
            do { map = try ClusterMapFile.load(path: clusterMap) } catch { throw CommandFailure.usage(error.description) }
        }
        if !(1...50).contains(sourcesPerCidr) { throw CommandFailure.usage("--sources-per-cidr must be 1 to 50") }
        if maxBodyBytes < 1024 { throw CommandFailure.usage("--max-body-bytes must be at least 1024") }
        guard let destination = SyslogDestination(syslog) else {
            throw CommandFailure.usage("--syslog '\(syslog)' must be local, unix:PATH, udp:HOST:PORT or tcp:HOST:PORT")
        }
        func duration(_ text: String, _ name: String) throws -> Duration {
            guard let parsed = DurationText.parse(text), parsed > .zero else {
                throw CommandFailure.usage("--\(name) '\(text)' is not a duration such as 500ms, 5s or 1m")
            }
            return parsed
        }
        let windowDuration = try duration(window, "window")
        let evaluation = try duration(evaluationInterval, "evaluation-interval")
        if let vpcRouteTable {
            do { _ = try VPCRouteTableFile.load(path: vpcRouteTable) } catch { throw CommandFailure.usage(error.description) }
        }
        var endpoint: KubernetesEndpoint? = nil
        if kubernetes && kubeconfig != nil { throw CommandFailure.usage("--kubernetes and --kubeconfig exclude each other") }
        do throws(KubernetesError) {
            if kubernetes { endpoint = try KubernetesEndpoint.inCluster() }
            if let kubeconfig { endpoint = try KubernetesEndpoint.kubeconfig(path: kubeconfig, context: kubeContext) }
        } catch {
            throw CommandFailure.usage(error.description)
        }
        if events && endpoint == nil { throw CommandFailure.usage("--events needs --kubernetes or --kubeconfig") }
        let (address, port) = (parsedAddress.description, Int(parsedPort))
        var configuration = AggregatorConfiguration(
            listenAddress: address, listenPort: port, token: token, clusterMap: map, sourcesPerCIDR: sourcesPerCidr,
            fullMesh: fullMesh, syslog: destination, vpcRouteTablePath: vpcRouteTable, window: windowDuration,
            evaluationInterval: evaluation, maximumBodyBytes: maxBodyBytes,
            hostname: ProcessInfo.processInfo.hostName, kubernetes: endpoint)
        configuration.events = events
        let aggregator = Aggregator(configuration: configuration) { line in
            writeToStandardOutput("routeprobe aggregator: \(line)\n")
        }
        unblockStopSignals()
        var logger = Logger(label: "routeprobe.aggregator")
        logger.logLevel = .warning
        let services = aggregator.services(logger: logger) { bound in
            writeToStandardOutput("routeprobe aggregator: listening on \(address.contains(":") ? "[\(address)]" : address):\(bound)\n")
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        do {
            try await group.run()
        } catch {
            throw CommandFailure("aggregator stopped: \(error)")
        }
    }
}
