import Dispatch
import RouteprobeSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One thread at the lowest CPU priority (nice 19) for the aggregator's inference: on a busy core, request
/// handling goes first and inference fills the gaps, so an evaluation over 10,000 reports does not show up
/// as ingest latency. Jobs run one at a time, in order.
final class LowPriorityWorker: Sendable {
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let wake = DispatchSemaphore(value: 0)

    /// Starts the thread; it lives as long as the process (the aggregator has one).
    init() throws(SystemError) {
        try SystemThread.detached { [self] in
            SystemThread.lowerCurrentPriority()
            while true {
                wake.wait()
                let job = self.jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                job?()
            }
        }
    }

    /// Runs `body` on the worker thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            jobs.withLock { $0.append { continuation.resume(returning: body()) } }
            wake.signal()
        }
    }
}
