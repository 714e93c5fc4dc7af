// TCP probes. With CAP_NET_RAW: half-open (HalfOpenTCP.swift), a SYN per attempt from one raw socket.
// Without it: a non-blocking connect per attempt; SYN-ACK is a reply, RST a refusal, an ICMP error is read
// from the socket's error queue (IP_RECVERR) with the router's address, type and code.
import RouteprobeCore
import RouteprobeSystem
#if canImport(Glibc)
import Glibc
#endif

/// Probes with TCP handshakes: SYN-ACK is `reply`, RST `refused`, an ICMP error `icmpError`.
public struct TCPProber: Prober {
    public var probeProtocol: ProbeProtocol { .tcp }

    /// How the SYNs go out.
    public enum Method: Sendable {
        /// Half-open when raw sockets are allowed, else connect().
        case automatic
        /// SYNs from a raw socket, no connection on either side (needs CAP_NET_RAW).
        case halfOpen
        /// A socket and a non-blocking connect() per attempt (needs no privileges).
        case connect
    }

    /// The method this prober uses.
    public var method: Method

    /// Builds a prober.
    public init(method: Method = .automatic) { self.method = method }

    public func probe(_ specs: [ProbeSpec], options: ProbeOptions) throws(ProbeError) -> [ProbeResult] {
        for spec in specs where spec.port == nil || spec.port == 0 {
            throw ProbeError.invalid("TCP probe of \(spec.target) has no port")
        }
        if specs.isEmpty { return [] }
        switch method {
        case .connect:
            return try probeWithConnect(specs, options: options)
        case .halfOpen:
            return try HalfOpenTCP(specs: specs, options: options).probe()
        case .automatic:
            let halfOpen: HalfOpenTCP
            do throws(ProbeError) { halfOpen = try HalfOpenTCP(specs: specs, options: options) } catch {
                guard case .missingCapability = error else { throw error }
                return try probeWithConnect(specs, options: options)
            }
            return try halfOpen.probe()
        }
    }

    private func probeWithConnect(_ specs: [ProbeSpec], options: ProbeOptions) throws(ProbeError) -> [ProbeResult] {
        var open: [Int32: (socket: OwnedDescriptor, index: Int, attempt: Int)] = [:]   // by fd
        var slotToFD: [Int: Int32] = [:]
        // One descriptor per connection in flight: stay well under the usual 1,024 open files.
        var runOptions = options
        runOptions.concurrency = min(options.concurrency, 512)
        var run = ProbeRun(specs: specs, options: runOptions)

        while !run.finished {
            let now = MonotonicClock.nanoseconds()
            sending: while let (index, attempt) = run.nextSend(now: now) {
                let spec = specs[index]
                let socket: OwnedDescriptor
                do throws(SystemError) {
                    socket = try OwnedDescriptor.socket(SocketFamily(spec.target.family), .stream, nonBlocking: true, in: options.namespace)
                    try socket.set(.receiveErrors(spec.target.family), 1)
                    // Close with RST rather than FIN: no TIME_WAIT left behind by thousands of probes.
                    try socket.resetOnClose()
                } catch {
                    if error.errno == EMFILE || error.errno == ENFILE {
                        run.retryLater(index: index, attempt: attempt, now: now)
                        break sending
                    }
                    throw ProbeError(error)
                }
                do throws(SystemError) {
                    try socket.connect(to: .ip(spec.target, port: spec.port!))
                    run.markSent(index: index, attempt: attempt, now: now)
                    run.record(index: index, attempt: attempt, outcome: .reply, now: MonotonicClock.nanoseconds())
                } catch {
                    switch error.errno {
                    case EINPROGRESS:
                        run.markSent(index: index, attempt: attempt, now: now)
                        open[socket.fd] = (socket, index, attempt)
                        slotToFD[attempt * specs.count + index] = socket.fd
                    case ECONNREFUSED:
                        run.markSent(index: index, attempt: attempt, now: now)
                        run.record(index: index, attempt: attempt, outcome: .refused, now: MonotonicClock.nanoseconds())
                    default:
                        run.record(index: index, attempt: attempt, outcome: .localError, now: now, localErrno: error.errno)
                    }
                }
            }
            // Expired attempts leave the poll set before it is built: their sockets close with them.
            for (index, attempt) in run.expire(now: now) {
                if let fd = slotToFD.removeValue(forKey: attempt * specs.count + index) { open.removeValue(forKey: fd) }
            }
            var poller = PollSet(Array(open.keys), interest: .writable)
            guard let (_, ready) = try run.expireAndWait(on: &poller, now: now) else { break }
            if ready == 0 { continue }
            let answeredAt = MonotonicClock.nanoseconds()
            for position in 0..<poller.count where poller.isReady(position) {
                guard let (socket, index, attempt) = open.removeValue(forKey: poller.descriptor(at: position)) else { continue }
                slotToFD.removeValue(forKey: attempt * specs.count + index)
                let error = try probing { () throws(SystemError) in try socket.pendingError() }
                switch error {
                case 0:
                    run.record(index: index, attempt: attempt, outcome: .reply, now: answeredAt)
                case ECONNREFUSED:
                    // A RST, unless the refusal came as an ICMP error (port unreachable, prohibited).
                    if let report = socket.queuedICMPError() {
                        run.record(index: index, attempt: attempt, outcome: .icmpError, now: answeredAt, icmpError: report)
                    } else {
                        run.record(index: index, attempt: attempt, outcome: .refused, now: answeredAt)
                    }
                default:
                    if let report = socket.queuedICMPError() {
                        run.record(index: index, attempt: attempt, outcome: .icmpError, now: answeredAt, icmpError: report)
                    } else {
                        run.record(index: index, attempt: attempt, outcome: .localError, now: answeredAt, localErrno: error)
                    }
                }
            }
        }
        return run.results()
    }
}
