import Synchronization

/// Writes to a slow outside service (the API server's Events and Node conditions) made by one task, in the
/// order they were submitted, while the evaluation loop goes on without waiting for them.
///
/// Each evaluation submits its finding events (every one is kept: a resolution must follow its opening, or a
/// Node keeps a `PodCIDRUnreachable=True` nobody clears) and the open findings as they are now (only the
/// newest matters, so a snapshot replaces the one not yet written). A writer that cannot keep up, because the
/// API server is slow or down, holds the events of the evaluations it missed and one snapshot: it never starts
/// a second write beside the first, and the work waiting grows only with the findings that open and resolve.
public final class OrderedWrites<Event: Sendable, Snapshot: Sendable>: Sendable {
    private struct Pending {
        var events: [Event] = []
        var snapshot: Snapshot?
    }

    private let pending = Mutex(Pending())
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init() {
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues `events` after those submitted before, and `snapshot` in place of any not yet written.
    public func submit(_ events: [Event], snapshot: Snapshot) {
        pending.withLock { pending in
            pending.events.append(contentsOf: events)
            pending.snapshot = snapshot
        }
        wake.yield()
    }

    /// Writes what was submitted, one batch at a time: `write` gets every event submitted since its last
    /// call, in order, and the newest snapshot. Returns when `finish` is called or the task is cancelled.
    public func run(_ write: (_ events: [Event], _ snapshot: Snapshot) async -> Void) async {
        for await _ in wakes {
            let batch = pending.withLock { pending -> Pending in
                defer { pending = Pending() }
                return pending
            }
            guard let snapshot = batch.snapshot else { continue }
            await write(batch.events, snapshot)
        }
    }

    /// Ends `run` once it has written what is waiting.
    public func finish() {
        wake.finish()
    }
}
