import Prometheus
import RouteprobeCore
import RouteprobeProbing

/// The agent's Prometheus metrics, updated once per round.
final class AgentMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let roundDuration: DurationHistogram
    private let routeTableSize: Gauge
    private static let rttBuckets: [Duration] = [.microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5),
                                                 .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1)]

    init() {
        roundDuration = registry.makeDurationHistogram(name: "routeprobe_round_duration_seconds",
                                                       buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500),
                                                                 .seconds(1), .seconds(2), .seconds(5)],
                                                       help: "Time one probing round took.")
        routeTableSize = registry.makeGauge(name: "routeprobe_route_table_routes", help: "Routes in the node's main table (IPv4 and IPv6).")
        for kind in Finding.Kind.allCases {
            registry.makeGauge(name: "routeprobe_findings_open", labels: [("kind", kind.rawValue)], help: "Findings open now, by kind.").set(Int64(0))
        }
    }

    func record(reports: [TargetReport], roundNanoseconds: UInt64, routes: Int?, open: [String: Finding]) {
        roundDuration.record(.nanoseconds(Int64(roundNanoseconds)))
        if let routes { routeTableSize.set(Int64(routes)) }
        for report in reports {
            let proto = report.spec.probeProtocol.rawValue
            let target = report.spec.target.description
            registry.makeGauge(name: "routeprobe_probe_success", labels: [("target", target), ("protocol", proto)],
                               help: "1 when the last probe of the target reached it (reply or refused), else 0.")
                .set(Int64(report.result.outcome.pathWorks ? 1 : 0))
            registry.makeCounter(name: "routeprobe_probe_outcomes_total", labels: [("protocol", proto), ("outcome", report.result.outcome.rawValue)],
                                 help: "Probe outcomes, by protocol and outcome.").increment()
            if let rtt = report.result.rttNanoseconds {
                registry.makeDurationHistogram(name: "routeprobe_probe_rtt_seconds", labels: [("protocol", proto)],
                                               buckets: AgentMetrics.rttBuckets, help: "Round-trip times of answered probes.")
                    .record(.nanoseconds(Int64(rtt)))
            }
        }
        for kind in Finding.Kind.allCases {
            registry.makeGauge(name: "routeprobe_findings_open", labels: [("kind", kind.rawValue)], help: "Findings open now, by kind.")
                .set(Int64(open.values.filter { $0.kind == kind }.count))
        }
    }
}
