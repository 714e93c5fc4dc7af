import HummingbirdCore
import Synchronization

/// Caps the connections the aggregator holds open, so that a flood of connections (anyone who can reach the
/// Service can open one; the TLS handshake asks for no token) cannot take it past its memory limit: each
/// open connection costs about 53 KB over TLS and 33 KB over plain HTTP, and agents keep theirs open between
/// rounds. At the cap the aggregator stops accepting: new connections wait in the kernel's queue until one
/// closes (an idle one closes after 30 s). Reaching the cap and leaving it are said once each.
struct ConnectionLimit: AvailableConnectionsDelegate {
    let maximum: Int
    let counter: OpenConnections
    var open = 0

    mutating func connectionOpened() {
        open += 1
        counter.changed(to: open, maximum: maximum)
    }

    mutating func connectionClosed() {
        open -= 1
        counter.changed(to: open, maximum: maximum)
    }

    func isAcceptingNewConnections() -> Bool {
        open < maximum
    }
}

/// The open connection count as the metrics and the log see it.
final class OpenConnections: Sendable {
    private let atLimit = Atomic(false)
    private let metrics: AggregatorMetrics
    private let log: @Sendable (String) -> Void

    init(metrics: AggregatorMetrics, log: @escaping @Sendable (String) -> Void) {
        self.metrics = metrics
        self.log = log
    }

    func changed(to open: Int, maximum: Int) {
        metrics.recordConnections(open: open)
        if open >= maximum, !atLimit.exchange(true, ordering: .relaxed) {
            log("\(open) connections open, the most --max-connections allows: new ones wait until one closes. With more "
                + "nodes than that, raise --max-connections and the memory limit with it (64 MiB + 64 KiB per connection)")
        } else if open < maximum * 9 / 10, atLimit.exchange(false, ordering: .relaxed) {
            log("connections below the limit again: \(open) of \(maximum) open")
        }
    }
}
