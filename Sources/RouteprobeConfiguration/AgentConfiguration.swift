import Foundation
import RouteprobeCore
import RouteprobeSystem

/// Everything an agent needs, as a plain value with typed fields: built by `resolve` from flags, the
/// config file and the defaults, and passed to the agent.
public struct AgentConfiguration: Sendable {
    /// The defaults, each written once: the flags' help, the file's documentation and `resolve` read them here.
    public enum Defaults {
        public static let interval: Duration = .seconds(5)
        public static let timeout: Duration = .seconds(1)
        /// The intervals an agent accepts: 100 ms (the aggregator's floor) to one hour.
        public static let intervalRange: ClosedRange<Duration> = .milliseconds(100) ... .seconds(3600)
        /// The probe timeouts an agent accepts: 10 ms to one minute.
        public static let timeoutRange: ClosedRange<Duration> = .milliseconds(10) ... .seconds(60)
        public static let failuresToOpen = 2
        public static let failuresToOpenRange = 1...WireSchema.maximumOpenAfter
        public static let syslog: SyslogDestination = .local
    }

    /// The aggregator to register with, fetch plans from and report to.
    public struct Aggregator: Sendable {
        /// Its base URL, e.g. `https://routeprobe-aggregator:9800`.
        public var url: String
        /// The file of the bearer token, read again when it changes (a projected ServiceAccount token rotates).
        public var tokenPath: String
        /// PEM of the CA that signed the aggregator's certificate (`--aggregator-ca`); nil: the system's roots.
        public var certificateAuthority: [UInt8]?
        /// What this node registers.
        public var registration: NodeRegistration

        /// Builds the settings.
        public init(url: String, tokenPath: String, certificateAuthority: [UInt8]? = nil, registration: NodeRegistration) {
            self.url = url
            self.tokenPath = tokenPath
            self.certificateAuthority = certificateAuthority
            self.registration = registration
        }
    }

    /// This node's name in the cluster map.
    public var nodeName: String
    /// Which node owns which pod CIDR (empty when the aggregator plans).
    public var clusterMap: ClusterMap
    /// Time from the start of one round to the start of the next.
    public var interval: Duration
    /// How long each probe waits.
    public var timeout: Duration
    /// Consecutive failed rounds before a finding opens.
    public var failuresToOpen: Int
    /// Where alerts go.
    public var syslog: SyslogDestination
    /// Where pcap files of failing flows go, if anywhere.
    public var captureDirectory: String?
    /// Work inside this network namespace (the lab runs agents this way); nil on a real node.
    public var namespace: NetworkNamespace?
    /// Serve Prometheus metrics on this address and port.
    public var metricsListen: (address: IPAddress, port: UInt16)?
    /// The aggregator, when the agent does not work alone.
    public var aggregator: Aggregator?

    /// Builds a configuration with the defaults.
    public init(nodeName: String, clusterMap: ClusterMap, interval: Duration = Defaults.interval, timeout: Duration = Defaults.timeout,
                failuresToOpen: Int = Defaults.failuresToOpen, syslog: SyslogDestination = Defaults.syslog, captureDirectory: String? = nil,
                namespace: NetworkNamespace? = nil, metricsListen: (address: IPAddress, port: UInt16)? = nil, aggregator: Aggregator? = nil) {
        self.nodeName = nodeName
        self.clusterMap = clusterMap
        self.interval = interval
        self.timeout = timeout
        self.failuresToOpen = failuresToOpen
        self.syslog = syslog
        self.captureDirectory = captureDirectory
        self.namespace = namespace
        self.metricsListen = metricsListen
        self.aggregator = aggregator
    }

    /// The probes of one round without a plan: every other node's pod targets, by ICMP and by TCP to the
    /// beacon port (full mesh).
    public var probeSpecs: [ProbeSpec] {
        ProbePlan.probeSpecs(node: nodeName, probeNodes: clusterMap.nodes.map(\.name), criticalTargets: [], cluster: clusterMap)
    }

    /// Merges `flags` over the file at `configPath` (when given) over the defaults, reads the cluster map and
    /// the token, and checks every value. `environment` supplies NODE_NAME (the downward API's spec.nodeName).
    /// Errors name the flag to fix.
    public static func resolve(flags: AgentSettings, configPath: String?,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> AgentConfiguration {
        let file = try configPath.map { path throws(ConfigurationError) in try AgentSettings.load(path: path) } ?? AgentSettings()
        let settings = file.overridden(by: flags)
        let environmentName = environment["NODE_NAME"].flatMap { $0.isEmpty ? nil : $0 }
        guard let nodeName = settings.nodeName ?? environmentName else {
            throw ConfigurationError("--node-name is required (or nodeName in --config, or NODE_NAME from the downward API)")
        }
        if settings.clusterMap == nil && settings.aggregator == nil {
            throw ConfigurationError("--cluster-map or --aggregator is required (or clusterMap/aggregator in --config)")
        }
        var map = ClusterMap(nodes: [])
        if let mapPath = settings.clusterMap {
            map = try ClusterMapFile.load(path: mapPath)
            guard map.node(named: nodeName) != nil else { throw ConfigurationError("node '\(nodeName)' is not in the cluster map \(mapPath)") }
        }
        let interval = try duration(settings.interval, flag: "interval", default: Defaults.interval, range: Defaults.intervalRange)
        let timeout = try duration(settings.timeout, flag: "timeout", default: Defaults.timeout, range: Defaults.timeoutRange)
        if timeout >= interval { throw ConfigurationError("--timeout must be shorter than --interval, or rounds would overlap") }
        let failures = settings.failuresToOpen ?? Defaults.failuresToOpen
        if !Defaults.failuresToOpenRange.contains(failures) {
            throw ConfigurationError("--failures-to-open must be \(Defaults.failuresToOpenRange.lowerBound) to \(Defaults.failuresToOpenRange.upperBound)")
        }
        var destination = Defaults.syslog
        if let text = settings.syslog {
            guard let parsed = SyslogDestination(text) else {
                throw ConfigurationError("--syslog '\(text)' must be local, unix:PATH, udp:HOST:PORT or tcp:HOST:PORT")
            }
            destination = parsed
        }
        var listen: (address: IPAddress, port: UInt16)? = nil
        if let text = settings.metricsListen {
            guard let endpoint = IPAddress.parseEndpoint(text), endpoint.port > 0 else {
                throw ConfigurationError("--metrics-listen '\(text)' must be ADDR:PORT, e.g. 0.0.0.0:9701 or [::]:9701")
            }
            listen = endpoint
        }
        if let directory = settings.captureDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigurationError("--capture-dir \(directory) is not a directory")
            }
        }
        let aggregator = try settings.aggregator.map { url throws(ConfigurationError) in
            var link = try aggregatorSettings(url: url, settings: settings, nodeName: nodeName, map: map)
            // The aggregator calls an agent silent after three of its intervals.
            let milliseconds = interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
            link.registration.intervalMilliseconds = Int(clamping: milliseconds)
            return link
        }
        return AgentConfiguration(nodeName: nodeName, clusterMap: map, interval: interval, timeout: timeout, failuresToOpen: failures,
                                  syslog: destination, captureDirectory: settings.captureDir, namespace: settings.netns.map(NetworkNamespace.init),
                                  metricsListen: listen, aggregator: aggregator)
    }

    private static func duration(_ text: String?, flag: String, default value: Duration, range: ClosedRange<Duration>) throws(ConfigurationError) -> Duration {
        guard let text else { return value }
        guard let parsed = DurationText.parse(text), parsed > .zero else {
            throw ConfigurationError("--\(flag) '\(text)' is not a duration such as 500ms, 5s or 1m")
        }
        guard range.contains(parsed) else {
            throw ConfigurationError("--\(flag) '\(text)' is out of range: \(DurationText.format(range.lowerBound)) to \(DurationText.format(range.upperBound))")
        }
        return parsed
    }

    /// Checks the aggregator settings and builds what the link needs: URL, token and this node's registration.
    private static func aggregatorSettings(url: String, settings: AgentSettings, nodeName: String, map: ClusterMap) throws(ConfigurationError) -> Aggregator {
        let (problem, plain) = AggregatorURL.check(url, plainHTTP: settings.plainHTTP == true)
        if let problem { throw ConfigurationError(problem) }
        if plain && settings.aggregatorCA != nil { throw ConfigurationError("--aggregator-ca needs an https:// --aggregator") }
        guard let tokenPath = settings.tokenFile else { throw ConfigurationError("--token-file is required with --aggregator") }
        _ = try BearerTokenFile.read(tokenPath)
        var authority: [UInt8]? = nil
        if let path = settings.aggregatorCA {
            guard let bytes = FileManager.default.contents(atPath: path) else { throw ConfigurationError("cannot read --aggregator-ca \(path)") }
            guard String(decoding: bytes, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
                throw ConfigurationError("--aggregator-ca \(path) holds no PEM certificate")
            }
            authority = Array(bytes)
        }
        let own = map.node(named: nodeName)
        let ip: IPAddress
        var otherIP: IPAddress? = nil
        if let text = settings.nodeIP {
            // A dual-stack node gives both, `IPv4,IPv6`, as the downward API's status.hostIPs lists them.
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 2 else { throw ConfigurationError("--node-ip '\(text)' must be one address, or two (IPv4,IPv6) on a dual-stack node") }
            ip = try address(parts[0], flag: "node-ip")
            if parts.count == 2 {
                let second = try address(parts[1], flag: "node-ip")
                guard second.family != ip.family else { throw ConfigurationError("--node-ip '\(text)': the two addresses must be of different families") }
                otherIP = second
            }
        } else if let own {
            ip = own.ip
            otherIP = own.otherIP
        } else {
            throw ConfigurationError("--node-ip is required with --aggregator and no cluster map")
        }
        var cidrs: [IPPrefix] = []
        for text in settings.podCIDRs ?? [] {
            if let problem = IPPrefix.problem(text) { throw ConfigurationError("--pod-cidr \(problem)") }
            cidrs.append(IPPrefix(text)!)
        }
        if cidrs.isEmpty { cidrs = own?.podCIDRs ?? [] }
        // No pod CIDR at all: the aggregator takes it from the Node object (discovery) when it registers us.
        var targets: [IPAddress] = []
        for text in settings.podTargets ?? [] { targets.append(try address(text, flag: "pod-target")) }
        if targets.isEmpty, settings.podCIDRs?.isEmpty ?? true { targets = own?.podTargets ?? [] }
        let registration = NodeRegistration(node: nodeName, ip: ip, otherIP: otherIP, podCIDRs: cidrs, podTargets: targets,
                                            instanceID: settings.instanceID ?? own?.instanceID)
        if let problem = registration.problem { throw ConfigurationError("cannot register: \(problem)") }
        return Aggregator(url: url, tokenPath: tokenPath, certificateAuthority: authority, registration: registration)
    }

    private static func address(_ text: String, flag: String) throws(ConfigurationError) -> IPAddress {
        guard let address = IPAddress(text) else { throw ConfigurationError("--\(flag) '\(text)' is not an IPv4 or IPv6 address") }
        return address
    }
}
