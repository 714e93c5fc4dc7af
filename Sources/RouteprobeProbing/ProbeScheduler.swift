import RouteprobeCore
import RouteprobeSystem

/// The probers a run uses, one per protocol: the real ones by default, fakes in tests.
public struct ProberRegistry: Sendable {
    private var probers: [ProbeProtocol: any Prober] = [:]

    /// An empty registry.
    public init() {}

    /// ICMP echo with `echoIdentifier`, and TCP (half-open with CAP_NET_RAW, else connect()).
    public static func standard(echoIdentifier: UInt16) -> ProberRegistry {
        var registry = ProberRegistry()
        registry.register(ICMPProber(identifier: echoIdentifier))
        registry.register(TCPProber())
        return registry
    }

    /// Adds (or replaces) the prober of its protocol.
    public mutating func register(_ prober: any Prober) { probers[prober.probeProtocol] = prober }

    /// The prober of `probeProtocol`.
    public subscript(_ probeProtocol: ProbeProtocol) -> (any Prober)? { probers[probeProtocol] }
}

/// Runs a mixed set of probes: each protocol's prober on its own thread, results in the order asked.
public struct ProbeScheduler: Sendable {
    /// The options every prober uses.
    public var options: ProbeOptions

    /// The ICMP echo identifier of this scheduler's probes.
    public var echoIdentifier: UInt16

    /// The probers, by protocol.
    public var probers: ProberRegistry

    /// Builds a scheduler with the standard probers, or with `probers`.
    public init(options: ProbeOptions, echoIdentifier: UInt16 = UInt16.random(in: 1...UInt16.max), probers: ProberRegistry? = nil) {
        self.options = options
        self.echoIdentifier = echoIdentifier
        self.probers = probers ?? .standard(echoIdentifier: echoIdentifier)
    }

    /// Probes every spec; the protocols run at the same time, each on its own thread.
    public func run(_ specs: [ProbeSpec]) throws(ProbeError) -> [ProbeResult] {
        var groups: [(prober: any Prober, positions: [Int])] = []
        for probeProtocol in ProbeProtocol.allCases {
            let positions = specs.indices.filter { specs[$0].probeProtocol == probeProtocol }
            if positions.isEmpty { continue }
            guard let prober = probers[probeProtocol] else {
                throw ProbeError.invalid("no prober for \(probeProtocol.rawValue) probes")
            }
            groups.append((prober, positions))
        }
        let options = self.options
        // One box per group: each thread writes only its own.
        final class Outcome { var value: Result<[ProbeResult], ProbeError> = .success([]) }
        let outcomes = groups.map { _ in Outcome() }
        func probe(_ group: Int) -> Result<[ProbeResult], ProbeError> {
            let (prober, positions) = groups[group]
            do throws(ProbeError) { return .success(try prober.probe(positions.map { specs[$0] }, options: options)) } catch { return .failure(error) }
        }
        // Every group but the last on a thread of its own; the last on this one. If no thread can be made,
        // the groups run one after the other.
        var threads: [(group: Int, thread: SystemThread)] = []
        for group in groups.indices.dropLast() {
            do throws(SystemError) {
                threads.append((group, try SystemThread { outcomes[group].value = probe(group) }))
            } catch {
                outcomes[group].value = probe(group)
            }
        }
        if let last = groups.indices.last { outcomes[last].value = probe(last) }
        for (_, thread) in threads { thread.join() }
        let answered = try outcomes.map { outcome throws(ProbeError) in try outcome.value.get() }
        for (group, results) in answered.enumerated() where results.count != groups[group].positions.count {
            throw ProbeError.invalid("the \(groups[group].prober.probeProtocol.rawValue) prober answered \(results.count) of \(groups[group].positions.count) probes")
        }
        if answered.count == 1 { return answered[0] }
        // Each group's positions rise, so the results interleave back in one pass, without a second array.
        var next = [Int](repeating: 0, count: groups.count)
        var groupOf: [ProbeProtocol: Int] = [:]
        for (group, positions) in groups.map(\.positions).enumerated() { groupOf[specs[positions[0]].probeProtocol] = group }
        var results: [ProbeResult] = []
        results.reserveCapacity(specs.count)
        for spec in specs {
            let group = groupOf[spec.probeProtocol]!
            results.append(answered[group][next[group]])
            next[group] += 1
        }
        return results
    }
}
