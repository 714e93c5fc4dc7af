// The seams just above the kernel for one check: route lookups, probers (ProbeScheduler.swift), flow
// capture and evidence files. The real implementations (SystemSeams.swift) talk to netlink, raw sockets and
// libpcap; tests hand ReachabilityCheck fakes, so the verdict table runs without root.
import RouteprobeCapture
import RouteprobeCore

/// A lookup the kernel could not answer with a usable route.
public struct RouteLookupFailure: Error, Sendable, Equatable {
    /// ENETUNREACH, EHOSTUNREACH, EACCES (prohibit) or EINVAL (blackhole).
    public var errno: Int32
    /// The failure as a sentence.
    public var text: String

    /// Builds a failure.
    public init(errno: Int32, text: String) {
        self.errno = errno
        self.text = text
    }
}

/// The node's routing view, as one check needs it.
public protocol RouteLookup {
    /// The interfaces (names, MACs, tunnel kinds).
    func links() throws(ProbeError) -> [Link]
    /// Every address on this node.
    func localAddresses() throws(ProbeError) -> [IPAddress]
    /// The kernel's own lookup for each target (policy rules count), or why no usable route covers it, in order.
    func routes(to targets: [IPAddress]) throws(ProbeError) -> [Result<Route, RouteLookupFailure>]
    /// Every route of every table (the agent's kernel-route check reads the main table).
    func routes() throws(ProbeError) -> [Route]
}

/// A capture of the probe flows, running while the probes go out.
public protocol FlowCapture: AnyObject {
    /// Stops and returns every frame captured, with the problems met (interfaces that could not be opened,
    /// frames the kernel dropped).
    func stop() -> (packets: [CapturedPacket], problems: [CaptureProblem])
}

/// Starts flow captures.
public protocol FlowCaptureOpener: Sendable {
    /// Starts capturing `filter` on `devices`.
    func start(devices: [String], filter: String) throws(ProbeError) -> any FlowCapture
}

/// Keeps the packets of failing flows, as evidence a person can open.
public protocol EvidenceWriter: Sendable {
    /// Writes the packets of one flow (all of `linkType`) under `name`; returns where they are.
    func write(_ packets: [CapturedPacket], linkType: Int32, name: String) throws(ProbeError) -> String
}

/// What one check talks to: the kernel and libpcap in production, fakes in tests.
public struct CheckEnvironment: Sendable {
    /// Opens the routing view for one check.
    public var openRoutes: @Sendable () throws(ProbeError) -> any RouteLookup
    /// The probers of one check, given the echo identifier its capture filters on.
    public var probers: @Sendable (_ echoIdentifier: UInt16) -> ProberRegistry
    /// Starts captures; nil when the check cannot capture at all.
    public var capture: (any FlowCaptureOpener)?
    /// Writes the packets of failing flows; nil when they are not kept.
    public var evidence: (any EvidenceWriter)?

    /// Builds an environment.
    public init(openRoutes: @escaping @Sendable () throws(ProbeError) -> any RouteLookup,
                probers: @escaping @Sendable (_ echoIdentifier: UInt16) -> ProberRegistry,
                capture: (any FlowCaptureOpener)?, evidence: (any EvidenceWriter)?) {
        self.openRoutes = openRoutes
        self.probers = probers
        self.capture = capture
        self.evidence = evidence
    }
}
