import HummingbirdCore

/// Caps the connections the aggregator holds open, so that a flood of connections (anyone who can reach the
/// Service can open one; the TLS handshake asks for no token) cannot take it past its memory limit: each
/// open connection costs about 53 KB over TLS and 33 KB over plain HTTP, and agents keep theirs open between
/// rounds. At the cap the aggregator stops accepting: new connections wait in the kernel's queue until one
/// closes (an idle one closes after 30 s). Reaching the cap is said once, and again falling below 90% of it.
/// The server calls it on its accepting event loop only, so its counts need no lock.
struct ConnectionLimit: AvailableConnectionsDelegate {
    let maximum: Int
    let metrics: AggregatorMetrics
    let log: @Sendable (String) -> Void
    private var open = 0
    private var full = false

    init(maximum: Int, metrics: AggregatorMetrics, log: @escaping @Sendable (String) -> Void) {
        self.maximum = maximum
        self.metrics = metrics
        self.log = log
        metrics.recordConnectionLimit(maximum)
    }

    mutating func connectionOpened() {
        open += 1
        metrics.recordConnections(open: open)
        if open >= maximum && !full {
            full = true
            log("\(open) connections open, the most --max-connections allows: new ones wait until one closes. With more "
                + "nodes than that, raise --max-connections and the memory limit with it (64 MiB + 64 KiB per connection)")
        }
    }

    mutating func connectionClosed() {
        open -= 1
        metrics.recordConnections(open: open)
        if full && open < maximum * 9 / 10 {
            full = false
            log("connections below the limit again: \(open) of \(maximum) open")
        }
    }

    func isAcceptingNewConnections() -> Bool {
        open < maximum
    }
}
