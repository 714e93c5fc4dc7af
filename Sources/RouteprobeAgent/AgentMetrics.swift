import Prometheus
import RouteprobeCore
import RouteprobeProbing
import Synchronization

/// The agent's Prometheus metrics, updated once per round.
///
/// The handles of every series are kept between rounds: registering a labelled series again costs name and
/// label validation plus a lookup per probe (about a twentieth of the agent's CPU at 2,000 probes a round).
/// The success series of a target that is no longer probed (a new plan, a new map) is removed, so the page
/// does not keep answering for it with its last value.
public final class AgentMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let roundDuration: DurationHistogram
    private let routeTableSize: Gauge
    private let findingsOpen: [Finding.Kind: Gauge]
    private let series = Mutex(Series())
    private static let rttBuckets: [Duration] = [.microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5),
                                                 .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1)]

    /// The labelled series made so far.
    private struct Series: ~Copyable {
        /// By target and protocol, the labels of the series (two ports of one target share it).
        var success: [Labels: Gauge] = [:]
        var outcomes: [ProbeProtocol: [ProbeOutcome: Counter]] = [:]
        var rtt: [ProbeProtocol: DurationHistogram] = [:]
    }

    private struct Labels: Hashable {
        var target: IPAddress
        var probeProtocol: ProbeProtocol
    }

    /// Registers every series the agent exports.
    public init() {
        roundDuration = registry.makeDurationHistogram(name: "routeprobe_round_duration_seconds",
                                                       buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500),
                                                                 .seconds(1), .seconds(2), .seconds(5)],
                                                       help: "Time one probing round took.")
        routeTableSize = registry.makeGauge(name: "routeprobe_route_table_routes", help: "Routes in the node's main table (IPv4 and IPv6).")
        var findingsOpen: [Finding.Kind: Gauge] = [:]
        for kind in Finding.Kind.allCases {
            let gauge = registry.makeGauge(name: "routeprobe_findings_open", labels: [("kind", kind.rawValue)], help: "Findings open now, by kind.")
            gauge.set(Int64(0))
            findingsOpen[kind] = gauge
        }
        self.findingsOpen = findingsOpen
    }

    func record(reports: [TargetReport], roundNanoseconds: UInt64, routes: Int?, open: [String: Finding]) {
        roundDuration.record(.nanoseconds(Int64(roundNanoseconds)))
        if let routes { routeTableSize.set(Int64(routes)) }
        series.withLock { series in
            var probed: Set<Labels> = []
            probed.reserveCapacity(reports.count)
            for report in reports {
                let spec = report.spec
                let labels = Labels(target: spec.target, probeProtocol: spec.probeProtocol)
                probed.insert(labels)
                successGauge(for: labels, in: &series).set(Int64(report.result.outcome.pathWorks ? 1 : 0))
                outcomeCounter(spec.probeProtocol, report.result.outcome, in: &series).increment()
                if let rtt = report.result.rttNanoseconds {
                    rttHistogram(spec.probeProtocol, in: &series).record(.nanoseconds(Int64(rtt)))
                }
            }
            if series.success.count > probed.count {
                for (labels, gauge) in series.success where !probed.contains(labels) {
                    registry.unregisterGauge(gauge)
                    series.success[labels] = nil
                }
            }
        }
        var openByKind: [Finding.Kind: Int] = [:]
        for finding in open.values { openByKind[finding.kind, default: 0] += 1 }
        for (kind, gauge) in findingsOpen { gauge.set(Int64(openByKind[kind] ?? 0)) }
    }

    private func successGauge(for labels: Labels, in series: inout Series) -> Gauge {
        if let gauge = series.success[labels] { return gauge }
        let gauge = registry.makeGauge(name: "routeprobe_probe_success",
                                       labels: [("target", labels.target.description), ("protocol", labels.probeProtocol.rawValue)],
                                       help: "1 when the last probe of the target reached it (reply or refused), else 0.")
        series.success[labels] = gauge
        return gauge
    }

    private func outcomeCounter(_ proto: ProbeProtocol, _ outcome: ProbeOutcome, in series: inout Series) -> Counter {
        if let counter = series.outcomes[proto]?[outcome] { return counter }
        let counter = registry.makeCounter(name: "routeprobe_probe_outcomes_total",
                                           labels: [("protocol", proto.rawValue), ("outcome", outcome.rawValue)],
                                           help: "Probe outcomes, by protocol and outcome.")
        series.outcomes[proto, default: [:]][outcome] = counter
        return counter
    }

    private func rttHistogram(_ proto: ProbeProtocol, in series: inout Series) -> DurationHistogram {
        if let histogram = series.rtt[proto] { return histogram }
        let histogram = registry.makeDurationHistogram(name: "routeprobe_probe_rtt_seconds", labels: [("protocol", proto.rawValue)],
                                                       buckets: AgentMetrics.rttBuckets, help: "Round-trip times of answered probes.")
        series.rtt[proto] = histogram
        return histogram
    }
}
