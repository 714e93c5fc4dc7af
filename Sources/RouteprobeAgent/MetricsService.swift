import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeSystem
import ServiceLifecycle

/// The metrics endpoint as a Service: serves `GET /metrics` on its own thread until graceful shutdown.
/// When the address cannot be bound, the agent says so and probes on without metrics (the service waits
/// for the shutdown: one that returned would end the agent's whole ServiceGroup).
public struct MetricsService: Service {
    private let address: IPAddress
    private let port: UInt16
    private let namespace: NetworkNamespace?
    private let metrics: AgentMetrics
    private let log: @Sendable (String) -> Void

    /// Serves `metrics` on `address` and `port`.
    public init(address: IPAddress, port: UInt16, namespace: NetworkNamespace?, metrics: AgentMetrics,
                log: @escaping @Sendable (String) -> Void) {
        self.address = address
        self.port = port
        self.namespace = namespace
        self.metrics = metrics
        self.log = log
    }

    public func run() async throws {
        let server: MetricsServer
        do throws(SystemError) {
            server = try MetricsServer(address: address, port: port, namespace: namespace, registry: metrics.registry)
            try server.start()
        } catch {
            // A service that returns ends the whole group: this one waits for the shutdown instead.
            log("cannot serve metrics on \(address) port \(port): \(error); probing goes on without them")
            try? await gracefulShutdown()
            return
        }
        log("metrics on http://\(SocketAddress.ip(address, port: port))/metrics")
        try? await gracefulShutdown()
        server.stop()
    }
}
