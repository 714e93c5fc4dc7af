import RouteprobeCore
import RouteprobeSystem

/// Why probing could not run at all (a single probe's failure is a `ProbeOutcome`, not an error).
public enum ProbeError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Raw sockets need CAP_NET_RAW (root has it).
    case missingCapability(String)
    /// A system call failed.
    case system(call: String, errno: Int32)
    /// The network namespace could not be entered.
    case namespace(String)
    /// The request cannot be probed as asked.
    case invalid(String)
    /// Reading the routing table failed.
    case routing(String)
    /// Capturing failed.
    case capture(String)

    public var description: String {
        switch self {
        case .missingCapability(let what): return what
        case .system(let call, let errno): return "\(call) failed: \(ErrnoName.message(errno)) (\(ErrnoName.symbol(errno)))"
        case .namespace(let text): return text
        case .invalid(let text): return text
        case .routing(let text): return text
        case .capture(let text): return text
        }
    }
}

/// Settings for one probing run.
public struct ProbeOptions: Sendable {
    /// Attempts per target.
    public var count: Int
    /// How long each attempt waits for an answer.
    public var timeout: Duration
    /// The pause between attempts to the same target.
    public var interval: Duration
    /// The most probes of one kind in flight at once.
    public var concurrency: Int
    /// Create the sockets in this network namespace.
    public var namespace: NetworkNamespace?
    /// The source address the kernel's route lookup chose for a target, where the caller has looked it up
    /// already (a check does, for every target): half-open TCP needs it for its checksums and otherwise
    /// asks the kernel itself, a UDP connect per target.
    public var sourceAddresses: [IPAddress: IPAddress] = [:]

    /// Builds options.
    public init(count: Int = 1, timeout: Duration = .seconds(1), interval: Duration = .milliseconds(100),
                concurrency: Int = 256, namespace: NetworkNamespace? = nil) {
        self.count = count
        self.timeout = timeout
        self.interval = interval
        self.concurrency = concurrency
        self.namespace = namespace
    }

    var timeoutNanoseconds: UInt64 { timeout.wholeNanoseconds }
    var intervalNanoseconds: UInt64 { interval.wholeNanoseconds }
}

/// One kind of probe: sends to many targets at once and reports one result per spec, in order.
public protocol Prober: Sendable {
    /// The protocol this prober speaks.
    var probeProtocol: ProbeProtocol { get }
    /// Probes every spec (all of this prober's protocol) and returns their results in the same order.
    func probe(_ specs: [ProbeSpec], options: ProbeOptions) throws(ProbeError) -> [ProbeResult]
}
