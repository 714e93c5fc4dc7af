// The node agent, wired from its services: rounds, route watch, stray-traffic watch, metrics endpoint,
// alerting and report upload, each a Service in one ServiceGroup.
import RouteprobeAlerting
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeHTTP
import RouteprobeProbing
import ServiceLifecycle

/// The agent's services, built from its configuration.
public struct Agent: Sendable {
    /// The rounds (for tests and the CLI's start line).
    public let rounds: AgentRounds
    /// Every service to run in one ServiceGroup.
    public let services: [any Service]

    /// Wires an agent; `log` receives one line per notable event (findings, delivery problems). A CA bundle
    /// for the aggregator that holds no usable certificate is an error.
    public init(configuration: AgentConfiguration, log: @escaping @Sendable (String) -> Void) throws(TLSFileError) {
        let alerts = AlertService(destination: configuration.syslog, hostname: configuration.nodeName,
                                  namespace: nil, goesOn: "probing goes on", log: log)
        let metrics = AgentMetrics()
        let trigger = RoundTrigger()
        var services: [any Service] = [alerts]
        var stray: StrayTrafficService? = nil
        var link: AggregatorLink? = nil
        if let settings = configuration.aggregator {
            let made = try AggregatorLink(baseURL: settings.url, tokenPath: settings.tokenPath,
                                          certificateAuthority: settings.certificateAuthority, registration: settings.registration, log: log)
            stray = StrayTrafficService(namespace: configuration.namespace, log: log)
            services += [AggregatorLinkService(link: made), stray!]
            link = made
        }
        rounds = AgentRounds(configuration: configuration,
                             environment: .system(namespace: configuration.namespace, captureDirectory: configuration.captureDirectory),
                             aggregator: link, strayTraffic: stray, alerts: alerts, metrics: metrics, log: log)
        services.append(RouteWatchService(namespace: configuration.namespace, podCIDRs: configuration.clusterMap.nodes.flatMap(\.podCIDRs),
                                          trigger: trigger, log: log))
        if let listen = configuration.metricsListen {
            services.append(MetricsService(address: listen.address, port: listen.port, namespace: configuration.namespace,
                                           metrics: metrics, log: log))
        }
        services.append(RoundService(rounds: rounds, trigger: trigger, log: log))
        self.services = services
    }
}

extension AggregatorLink: AggregatorConnection {}
