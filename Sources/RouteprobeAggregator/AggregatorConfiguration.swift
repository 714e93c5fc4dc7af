import RouteprobeCore
import RouteprobeHTTP
import RouteprobeKubernetes

/// Everything the aggregator needs, as a value built from flags.
public struct AggregatorConfiguration: Sendable {
    /// Address and port to listen on.
    public var listenAddress: String
    public var listenPort: Int
    /// Who may call the API, and for which node; `init(token:)` makes `token` the one shared token.
    public var credentials: AgentCredentials
    /// A cluster map file's content, when one was given (registrations add to it).
    public var clusterMap: ClusterMap?
    /// Sources per pod CIDR (K), or every node probing every node.
    public var sourcesPerCIDR: Int
    public var fullMesh: Bool
    /// Where cluster alerts go.
    public var syslog: SyslogDestination
    /// The VPC route table file to compare with the cluster, re-read when it changes.
    public var vpcRouteTablePath: String?
    /// The route table's limit of entries; nil: the cloud's default (`VPCCloud.defaultRouteLimit`).
    public var routeTableLimit: Int?
    /// Registrations accepted when no nodes are known (no cluster map, no API server); beyond it 429.
    public var maxNodes: Int = 10_000
    /// The most connections held open at once; beyond it new ones wait (each costs about 53 KB with TLS).
    public var maxConnections: Int = 12_000
    /// Reports older than this no longer count; registrations not renewed by a report for this long expire.
    public var window: Duration
    /// How often inference runs.
    public var evaluationInterval: Duration
    /// Evaluations without a finding before it closes.
    public var evaluationsToClose: Int
    /// Largest accepted request body.
    public var maximumBodyBytes: Int
    /// The HOSTNAME of syslog messages.
    public var hostname: String
    /// Discover nodes from this API server (in-cluster or kubeconfig); nil: the cluster map and registrations only.
    public var kubernetes: KubernetesEndpoint?
    /// Set `PodCIDRUnreachable` on the Nodes that own unreachable pod CIDRs (needs `kubernetes`).
    public var nodeConditions: Bool = false
    /// Watch the route controller: a VPC-route finding open this long with no repair is `routeControllerSilent`
    /// or `routeControllerFailing`; nil: off (it needs the API server's Events and Nodes).
    public var routeControllerGrace: Duration? = nil
    /// Lead through this Lease (a standby otherwise); nil: the one replica always leads.
    public var leaderElector: LeaderElector? = nil
    /// Serve HTTPS with this key pair; nil: plain HTTP (`--plain-http`).
    public var tls: ServerKeyPair? = nil
    /// Create Kubernetes Events on the Node a finding is about (needs `kubernetes`).
    public var events: Bool = false

    /// Builds a configuration with the documented defaults.
    public init(listenAddress: String = "0.0.0.0", listenPort: Int = 9800, token: String, clusterMap: ClusterMap? = nil,
                sourcesPerCIDR: Int = 3, fullMesh: Bool = false, syslog: SyslogDestination = .local,
                vpcRouteTablePath: String? = nil, window: Duration = .seconds(30), evaluationInterval: Duration = .seconds(1),
                evaluationsToClose: Int = 2, maximumBodyBytes: Int = 1 << 20,
                hostname: String = "routeprobe-aggregator", kubernetes: KubernetesEndpoint? = nil) {
        self.kubernetes = kubernetes
        self.listenAddress = listenAddress
        self.listenPort = listenPort
        self.credentials = AgentCredentials(shared: token)
        self.clusterMap = clusterMap
        self.sourcesPerCIDR = sourcesPerCIDR
        self.fullMesh = fullMesh
        self.syslog = syslog
        self.vpcRouteTablePath = vpcRouteTablePath
        self.window = window
        self.evaluationInterval = evaluationInterval
        self.evaluationsToClose = evaluationsToClose
        self.maximumBodyBytes = maximumBodyBytes
        self.hostname = hostname
    }
}
