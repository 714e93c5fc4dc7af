// The watch for other nodes' pod traffic arriving here, as a Service: rebuilt when the CIDRs to watch
// change, stopped at shutdown, its problems said once while they last.
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeProbing
import RouteprobeSystem
import ServiceLifecycle
import Synchronization

/// Keeps a StrayTrafficWatch on the other nodes' pod CIDRs that the rounds ask about.
public final class StrayTrafficService: Service, StrayTrafficSource {
    private let namespace: NetworkNamespace?
    private let log: @Sendable (String) -> Void
    private let state = Mutex<(watch: StrayTrafficWatch?, problem: String?, stopped: Bool)>((nil, nil, false))

    /// Watches in `namespace` when given.
    public init(namespace: NetworkNamespace?, log: @escaping @Sendable (String) -> Void) {
        self.namespace = namespace
        self.log = log
    }

    public func collect(watching cidrs: [IPPrefix], peers: [IPAddress]) -> [StrayTraffic] {
        state.withLock { state in
            if state.stopped { return [] }
            if state.watch?.cidrs != cidrs {
                state.watch?.stop()
                state.watch = nil
                guard !cidrs.isEmpty else { return [] }
                do throws(ProbeError) {
                    state.watch = try StrayTrafficWatch(cidrs: cidrs, peers: peers, namespace: namespace)
                    if state.problem != nil { log("watching for stray pod traffic again") }
                    state.problem = nil
                } catch {
                    if state.problem != error.description {
                        log("cannot watch for other nodes' pod traffic arriving here (\(error)); wrong VPC next hops are not detected from this node")
                    }
                    state.problem = error.description
                    return []
                }
            }
            return state.watch?.collect() ?? []
        }
    }

    /// Waits for graceful shutdown, then stops the capture.
    public func run() async throws {
        try? await gracefulShutdown()
        state.withLock { state in
            state.watch?.stop()
            state.watch = nil
            state.stopped = true
        }
    }
}
