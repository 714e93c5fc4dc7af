import Dispatch
import Foundation

/// Calls `stop` once on SIGINT or SIGTERM (for commands that run until told to stop).
public final class StopSignals {
    private let sources: [any DispatchSourceSignal]

    /// Starts watching; `stop` runs on a dispatch queue.
    public init(stop: @escaping @Sendable () -> Void) {
        unblockStopSignals()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop() }
            source.resume()
            return source
        }
    }

    /// Stops watching.
    public func cancel() { sources.forEach { $0.cancel() } }
}

/// Unblocks SIGINT and SIGTERM: a parent may hand down a mask that blocks them (children of Swift's worker
/// threads get one), and a service must still stop when told to.
public func unblockStopSignals() {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    sigaddset(&signals, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &signals, nil)
}
