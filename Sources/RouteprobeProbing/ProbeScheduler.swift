import RouteprobeCore
import RouteprobeNetlink

/// Runs a mixed set of probes: each protocol's prober on its own thread, results in the order asked.
public struct ProbeScheduler: Sendable {
    /// The options every prober uses.
    public var options: ProbeOptions

    /// The ICMP echo identifier of this scheduler's probes.
    public var echoIdentifier: UInt16

    /// Builds a scheduler.
    public init(options: ProbeOptions, echoIdentifier: UInt16 = UInt16.random(in: 1...UInt16.max)) {
        self.options = options
        self.echoIdentifier = echoIdentifier
    }

    /// Probes every spec; ICMP and TCP run at the same time.
    public func run(_ specs: [ProbeSpec]) throws(ProbeError) -> [ProbeResult] {
        let icmp = specs.enumerated().filter { $0.element.probeProtocol == .icmp }
        let tcp = specs.enumerated().filter { $0.element.probeProtocol == .tcp }
        var results = [ProbeResult?](repeating: nil, count: specs.count)
        let options = self.options
        let identifier = echoIdentifier
        let icmpSpecs = icmp.map(\.element), tcpSpecs = tcp.map(\.element)
        var icmpOutcome: Result<[ProbeResult], ProbeError> = .success([])
        var tcpOutcome: Result<[ProbeResult], ProbeError> = .success([])
        let icmpWork = {
            do throws(ProbeError) { icmpOutcome = .success(try ICMPProber(identifier: identifier).probe(icmpSpecs, options: options)) } catch { icmpOutcome = .failure(error) }
        }
        if !icmpSpecs.isEmpty, !tcpSpecs.isEmpty, case .success(let thread) = startThread(icmpWork) {
            do throws(ProbeError) { tcpOutcome = .success(try TCPProber().probe(tcpSpecs, options: options)) } catch { tcpOutcome = .failure(error) }
            pthread_join(thread, nil)
        } else {
            if !icmpSpecs.isEmpty { icmpWork() }
            do throws(ProbeError) { tcpOutcome = .success(try TCPProber().probe(tcpSpecs, options: options)) } catch { tcpOutcome = .failure(error) }
        }
        for (position, result) in try icmpOutcome.get().enumerated() { results[icmp[position].offset] = result }
        for (position, result) in try tcpOutcome.get().enumerated() { results[tcp[position].offset] = result }
        return results.map { $0! }
    }
}

#if canImport(Glibc)
import Glibc
#endif
