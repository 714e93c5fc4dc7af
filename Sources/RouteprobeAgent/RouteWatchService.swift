// Route changes start the next round at once, so a deleted route is seen within a round, not an interval.
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem
import ServiceLifecycle

/// Watches the route table: a change to a route that covers a pod CIDR, or to the default route, wakes the
/// rounds. Without the netlink monitor (no permission), rounds run on the interval only.
public struct RouteWatchService: Service {
    private let namespace: NetworkNamespace?
    private let podCIDRs: [IPPrefix]
    private let trigger: RoundTrigger
    private let log: @Sendable (String) -> Void

    /// Watches for changes to routes covering `podCIDRs` (all changes when empty).
    public init(namespace: NetworkNamespace?, podCIDRs: [IPPrefix], trigger: RoundTrigger, log: @escaping @Sendable (String) -> Void) {
        self.namespace = namespace
        self.podCIDRs = podCIDRs
        self.trigger = trigger
        self.log = log
    }

    /// True when a change to `route` can change what a round finds.
    static func isRelevant(_ route: Route, podCIDRs: [IPPrefix]) -> Bool {
        podCIDRs.isEmpty || route.isDefault || podCIDRs.contains { $0.contains(route.destination) || route.destination.contains($0) }
    }

    public func run() async throws {
        let monitor: RouteMonitor
        do throws(NetlinkError) {
            monitor = try RouteMonitor(families: [.inet, .inet6], namespace: namespace)
        } catch {
            // A service that returns ends the whole group: without the watch, this one waits for the shutdown.
            log("cannot watch the route table (\(error)); rounds run on the interval only")
            try? await gracefulShutdown()
            return
        }
        let events = monitor.events()
        let cidrs = podCIDRs, trigger = self.trigger
        await withGracefulShutdownHandler {
            do {
                for try await event in events {
                    switch event {
                    case .added(let route), .deleted(let route):
                        if RouteWatchService.isRelevant(route, podCIDRs: cidrs) { trigger.wake() }
                    case .resync:
                        trigger.wake()
                    }
                }
            } catch {
                log("the route watch stopped (\(error)); rounds run on the interval only")
                try? await gracefulShutdown()
            }
        } onGracefulShutdown: {
            monitor.stop()
        }
    }
}
