import RouteprobeNetlink
import RouteprobeProbing
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The beacon as a ServiceLifecycle service: accepts on its own thread; graceful shutdown or cancellation
/// stops it within 200 ms.
public struct BeaconService: Service {
    private let beacon: Beacon

    /// Wraps a listening beacon.
    public init(beacon: Beacon) { self.beacon = beacon }

    public func run() async throws {
        let beacon = self.beacon
        let stopping = StopState()
        let failure: ProbeError? = await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<ProbeError?, Never>) in
                    let work = {
                        do throws(ProbeError) {
                            try beacon.serve(until: { stopping.isSet })
                            continuation.resume(returning: nil)
                        } catch {
                            continuation.resume(returning: error)
                        }
                    }
                    switch startThread(work) {
                    case .success(let thread): pthread_detach(thread)
                    case .failure: work()
                    }
                }
            } onGracefulShutdown: {
                stopping.set()
            }
        } onCancel: {
            stopping.set()
        }
        if let failure { throw failure }
    }
}

/// A flag set once from any thread.
final class StopState: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
