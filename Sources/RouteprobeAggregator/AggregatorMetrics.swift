import Prometheus
import RouteprobeCore

/// The aggregator's Prometheus metrics.
public final class AggregatorMetrics: Sendable {
    /// The registry /metrics serves.
    public let registry = PrometheusCollectorRegistry()
    let registrations: Counter
    private let reports: Counter
    private let ingestLatency: DurationHistogram
    private let inferenceDuration: DurationHistogram
    private let registered: Gauge
    private let reporting: Gauge
    private let tableEntries: Gauge
    private let tableLimit: Gauge
    private let propagation: DurationHistogram
    private let connections: Gauge
    private let connectionLimit: Gauge

    /// Builds the metrics with every series present from the start.
    public init() {
        registrations = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_registrations_total", unitName: "", helpText: "Agent registrations accepted."))
        reports = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_reports_total", unitName: "", helpText: "Agent reports accepted."))
        ingestLatency = registry.makeDurationHistogram(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_ingest_seconds", unitName: "", helpText: "Time to decode, check and store one report."), buckets: [.microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100)])
        inferenceDuration = registry.makeDurationHistogram(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_inference_seconds", unitName: "", helpText: "Time one inference over all reports took."), buckets: [.milliseconds(1), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1)])
        registered = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_nodes_registered", unitName: "", helpText: "Nodes whose agents are registered."))
        reporting = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_nodes_reporting", unitName: "", helpText: "Nodes with a report inside the window."))
        tableEntries = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_vpc_route_table_entries", unitName: "", helpText: "Entries of the imported VPC route table that count against its limit (the fullest table; GCP: the project's routes); 0 without a table."))
        tableLimit = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_vpc_route_table_limit", unitName: "", helpText: "The VPC route table's limit of entries (--route-table-limit or the cloud's default); 0 without a table."))
        propagation = registry.makeDurationHistogram(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_route_propagation_seconds", unitName: "", helpText: "From a new node's pod CIDR appearing on its Node to every probing source reaching it."), buckets: [.seconds(5), .seconds(10), .seconds(20), .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(600)])
        connections = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_connections_open", unitName: "", helpText: "Connections open now (agents keep theirs between rounds)."))
        connectionLimit = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_connections_limit", unitName: "", helpText: "The most connections held open (--max-connections); beyond it new ones wait."))
        for status in [400, 401, 403, 404, 409, 413, 429, 503] { rejected(status: status, count: 0) }
        for kind in Finding.Kind.allCases { setOpen(0, kind: kind) }
    }

    func recordIngest(nanoseconds: UInt64) {
        reports.increment()
        ingestLatency.record(.nanoseconds(Int64(nanoseconds)))
    }

    func rejected(status: Int, count: Int = 1) {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_rejected_requests_total", unitName: "", helpText: "Requests refused, by HTTP status."), labels: [("status", String(status))]).increment(by: Int64(count))
    }

    private func setOpen(_ count: Int, kind: Finding.Kind) {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "routeprobe_aggregator_findings_open", unitName: "", helpText: "Cluster findings open now, by kind."), labels: [("kind", kind.rawValue)])
            .set(Int64(count))
    }

    func recordConnections(open: Int) { connections.set(Int64(open)) }

    func recordConnectionLimit(_ limit: Int) { connectionLimit.set(Int64(limit)) }

    func recordPropagation(seconds: Int64) { propagation.record(.seconds(seconds)) }

    func recordEvaluation(nanoseconds: UInt64, open: [Finding], registered: Int, reporting: Int, capacity: VPCRouteDiff.Capacity?) {
        inferenceDuration.record(.nanoseconds(Int64(nanoseconds)))
        tableEntries.set(Int64(capacity?.used ?? 0))
        tableLimit.set(Int64(capacity?.limit ?? 0))
        self.registered.set(Int64(registered))
        self.reporting.set(Int64(reporting))
        for kind in Finding.Kind.allCases { setOpen(open.filter { $0.kind == kind }.count, kind: kind) }
    }
}
