import RouteprobeCore
import RouteprobeKubernetes
import Synchronization

/// Which replica speaks. With leader election only the Lease holder serves agents, alerts and writes Events;
/// the ids of the open findings it alerted travel on the Lease (an annotation), so that its successor, which
/// rebuilds its view from the agents' next reports, neither alerts them a second time nor forgets to send
/// their resolve. Without leader election the one replica always leads.
public final class Leadership: Sendable {
    /// The Lease annotation: the ids of open findings already alerted, sorted, comma-separated.
    public static let annotation = "routeprobe.io/alerted-findings"
    /// At most this many ids travel (far more findings than a cluster has open; the annotation stays small).
    static let maximumIDs = 2_000

    let elector: LeaderElector?
    private struct Ledger {
        /// Open findings this leader alerted (or took over as alerted).
        var alerted: Set<String> = []
        /// Alerted by the previous leader and not seen here yet.
        var inherited: Set<String> = []
        var ledAt: ContinuousClock.Instant?
    }
    private let ledger = Mutex(Ledger())
    private let log: @Sendable (String) -> Void

    public init(elector: LeaderElector?, log: @escaping @Sendable (String) -> Void) {
        self.elector = elector
        self.log = log
    }

    /// True when this replica serves agents, alerts and writes Events.
    public var isLeader: Bool { elector?.isLeader ?? true }

    /// Why a standby does not answer agents.
    var standbyReason: String { "standby: \(elector?.holder ?? "another replica") leads; the Service sends agents to the leader" }

    /// This replica took the Lease over; `annotations` are as the previous leader left them.
    func startedLeading(_ annotations: [String: String]) {
        let ids = Set((annotations[Self.annotation] ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }.prefix(Self.maximumIDs))
        ledger.withLock { ledger in
            ledger.inherited = ids
            ledger.alerted = []
            ledger.ledAt = .now
        }
        if !ids.isEmpty { log("took over \(ids.count) alerted finding\(ids.count == 1 ? "" : "s") from the previous leader: \(ids.sorted().joined(separator: ", "))") }
    }

    /// The events to alert on: a finding the previous leader alerted opens here without a second alert, and
    /// its resolve is sent as usual. Inherited ids that do not come back within `window` are dropped. When the
    /// alerted set changes it is written to the Lease before this returns, so a successor knows of every
    /// alert sent (if the write fails the alert goes out anyway: a second alert beats none).
    func toAlert(_ events: [FindingEvent], window: Duration) async -> [FindingEvent] {
        guard let elector else { return events }
        var kept: [FindingEvent] = []
        var skipped: [String] = []
        var dropped: [String] = []
        let published = ledger.withLock { ledger -> String in
            for event in events {
                let id = event.finding.id
                switch event {
                case .opened:
                    if ledger.inherited.remove(id) != nil { skipped.append(id) } else { kept.append(event) }
                    ledger.alerted.insert(id)
                case .resolved:
                    ledger.inherited.remove(id)
                    ledger.alerted.remove(id)
                    kept.append(event)
                }
            }
            if let ledAt = ledger.ledAt, ContinuousClock.now - ledAt > window, !ledger.inherited.isEmpty {
                dropped = ledger.inherited.sorted()
                ledger.inherited = []
            }
            return Array(ledger.alerted.union(ledger.inherited)).sorted().prefix(Self.maximumIDs).joined(separator: ",")
        }
        elector.setAnnotation(Self.annotation, published.isEmpty ? nil : published)
        if !kept.isEmpty, await !elector.persistAnnotations() {
            log("could not write the alerted findings to the Lease before alerting; a successor may alert them again")
        }
        for id in skipped { log("\(id) is open again here; the previous leader alerted it already") }
        if !dropped.isEmpty {
            log("alerted by the previous leader, not seen within the window: \(dropped.joined(separator: ", ")); their resolve cannot be sent")
        }
        return kept
    }
}
