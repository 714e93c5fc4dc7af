import RouteprobeProbing
import ServiceLifecycle
import Synchronization

/// The beacon as a ServiceLifecycle service: accepts on a thread of its own; graceful shutdown or cancellation
/// stops it within 200 ms.
public struct BeaconService: Service {
    private let beacon: Beacon

    /// Wraps a listening beacon.
    public init(beacon: Beacon) { self.beacon = beacon }

    public func run() async throws {
        let beacon = self.beacon
        let stopping = Mutex(false)
        let failure = await runOnThreadUntilShutdown({ () -> ProbeError? in
            do throws(ProbeError) {
                try beacon.serve(until: { stopping.withLock { $0 } })
                return nil
            } catch {
                return error
            }
        }, stop: { stopping.withLock { $0 = true } })
        if let failure { throw failure }
    }
}
