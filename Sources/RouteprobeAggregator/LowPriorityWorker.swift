import Dispatch
import RouteprobeNetlink
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
    init() {
        if case .success(let thread) = startThread({ [self] in
            // Linux keeps the nice value per thread: PRIO_PROCESS with who 0 changes only the calling thread
            // (setpriority(2), NOTES).
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            while true {
                wake.wait()
                let job = self.jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                job?()
            }
        }) {
            pthread_detach(thread)
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
