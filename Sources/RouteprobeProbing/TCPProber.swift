// TCP probes. With CAP_NET_RAW: half-open (HalfOpenTCP.swift), a SYN per attempt from one raw socket.
// Without it: a non-blocking connect per attempt; SYN-ACK is a reply, RST a refusal, an ICMP error is read
// from the socket's error queue (IP_RECVERR) with the router's address, type and code.
import RouteprobeCore
import RouteprobeNetlink
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
            return halfOpen.probe()
        }
    }

    private func probeWithConnect(_ specs: [ProbeSpec], options: ProbeOptions) throws(ProbeError) -> [ProbeResult] {
        var open: [Int: (socket: OwnedDescriptor, index: Int, attempt: Int)] = [:]   // by fd
        var slotToFD: [Int: Int32] = [:]
        // One descriptor per connection in flight: stay well under the usual 1,024 open files.
        var runOptions = options
        runOptions.concurrency = min(options.concurrency, 512)
        var run = ProbeRun(specs: specs, options: runOptions)

        while !run.finished {
            let now = monotonicClock()
            while let (index, attempt) = run.nextSend(now: now) {
                let spec = specs[index]
                let socket: OwnedDescriptor
                do throws(ProbeError) {
                    socket = try openSocket(family: spec.target.family, type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                                            protocol: 0, name: "socket(SOCK_STREAM)", namespace: options.namespace)
                } catch {
                    if case .system(_, let code) = error, code == EMFILE || code == ENFILE {
                        run.retryLater(index: index, attempt: attempt, now: now)
                        break
                    }
                    throw error
                }
                if spec.target.family == .inet {
                    try setOption(socket.fd, Int32(SOL_IP), 11 /* IP_RECVERR */, 1, name: "IP_RECVERR")
                } else {
                    try setOption(socket.fd, Int32(SOL_IPV6), 25 /* IPV6_RECVERR */, 1, name: "IPV6_RECVERR")
                }
                // Close with RST rather than FIN: no TIME_WAIT left behind by thousands of probes.
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                _ = setsockopt(socket.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                let code = startConnect(socket.fd, to: spec.target, port: spec.port!)
                if code == 0 {
                    run.markSent(index: index, attempt: attempt, now: now)
                    run.record(index: index, attempt: attempt, outcome: .reply, now: monotonicClock())
                } else if code == EINPROGRESS {
                    run.markSent(index: index, attempt: attempt, now: now)
                    open[Int(socket.fd)] = (socket, index, attempt)
                    slotToFD[attempt * specs.count + index] = socket.fd
                } else if code == ECONNREFUSED {
                    run.markSent(index: index, attempt: attempt, now: now)
                    run.record(index: index, attempt: attempt, outcome: .refused, now: monotonicClock())
                } else {
                    run.record(index: index, attempt: attempt, outcome: .localError, now: now, localErrno: code)
                }
            }
            for (index, attempt) in run.expire(now: now) {
                if let fd = slotToFD.removeValue(forKey: attempt * specs.count + index) { open.removeValue(forKey: Int(fd)) }
            }
            if run.finished { break }
            var descriptors = open.keys.map { pollfd(fd: Int32($0), events: Int16(POLLOUT), revents: 0) }
            let wait = run.nextWakeup(now: now)
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(min(wait / 1_000_000 + 1, 1000)))
            if ready <= 0 { continue }
            let answeredAt = monotonicClock()
            for descriptor in descriptors where descriptor.revents != 0 {
                guard let (socket, index, attempt) = open.removeValue(forKey: Int(descriptor.fd)) else { continue }
                slotToFD.removeValue(forKey: attempt * specs.count + index)
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(socket.fd, SOL_SOCKET, SO_ERROR, &error, &length)
                switch error {
                case 0:
                    run.record(index: index, attempt: attempt, outcome: .reply, now: answeredAt)
                case ECONNREFUSED:
                    // A RST, unless the refusal came as an ICMP error (port unreachable, prohibited).
                    if let report = queuedICMPError(socket.fd) {
                        run.record(index: index, attempt: attempt, outcome: .icmpError, now: answeredAt, icmpError: report)
                    } else {
                        run.record(index: index, attempt: attempt, outcome: .refused, now: answeredAt)
                    }
                default:
                    if let report = queuedICMPError(socket.fd) {
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
