// TCP probes: a non-blocking connect per attempt; SYN-ACK is a reply, RST a refusal, an ICMP error is read
// from the socket's error queue (IP_RECVERR) with the router's address, type and code.
import RouteprobeCore
import RouteprobeNetlink
#if canImport(Glibc)
import Glibc
#endif

/// Probes with TCP handshakes. Needs no privileges.
public struct TCPProber: Prober {
    public var probeProtocol: ProbeProtocol { .tcp }

    /// Builds a prober.
    public init() {}

    public func probe(_ specs: [ProbeSpec], options: ProbeOptions) throws(ProbeError) -> [ProbeResult] {
        for spec in specs where spec.port == nil || spec.port == 0 {
            throw ProbeError.invalid("TCP probe of \(spec.target) has no port")
        }
        if specs.isEmpty { return [] }
        var run = ProbeRun(specs: specs, options: options)
        var open: [Int: (socket: OwnedDescriptor, index: Int, attempt: Int)] = [:]   // by fd
        var slotToFD: [Int: Int32] = [:]
        let concurrencyLimit = min(options.concurrency, 512)
        var runOptions = options
        runOptions.concurrency = concurrencyLimit
        run = ProbeRun(specs: specs, options: runOptions)

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
                let result = withSocketAddress(spec.target, port: spec.port!) { connect(socket.fd, $0, $1) }
                let code = result == 0 ? 0 : errno
                if result == 0 {
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
                    if let report = TCPProber.queuedICMPError(socket.fd) {
                        run.record(index: index, attempt: attempt, outcome: .icmpError, now: answeredAt, icmpError: report)
                    } else {
                        run.record(index: index, attempt: attempt, outcome: .refused, now: answeredAt)
                    }
                default:
                    if let report = TCPProber.queuedICMPError(socket.fd) {
                        run.record(index: index, attempt: attempt, outcome: .icmpError, now: answeredAt, icmpError: report)
                    } else {
                        run.record(index: index, attempt: attempt, outcome: .localError, now: answeredAt, localErrno: error)
                    }
                }
            }
        }
        return run.results()
    }

    /// Reads the socket's error queue: the ICMP error that ended the handshake, with its sender.
    static func queuedICMPError(_ fd: Int32) -> ICMPErrorReport? {
        var data = [UInt8](repeating: 0, count: 64)
        var control = [UInt8](repeating: 0, count: 512)
        var offender: ICMPErrorReport? = nil
        data.withUnsafeMutableBytes { dataBytes in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
                withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    guard recvmsg(fd, &message, Int32(MSG_ERRQUEUE) | Int32(MSG_DONTWAIT)) >= 0 else { return }
                    // Walk the control messages by hand: CMSG_* are macros Swift cannot import.
                    var offset = 0
                    let total = Int(message.msg_controllen)
                    let headerSize = MemoryLayout<cmsghdr>.size
                    while offset + headerSize <= total {
                        let header = controlBytes.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self)
                        let length = Int(header.cmsg_len)
                        guard length >= headerSize, offset + length <= total else { return }
                        let isIPv4 = header.cmsg_level == SOL_IP && header.cmsg_type == 11
                        let isIPv6 = header.cmsg_level == SOL_IPV6 && header.cmsg_type == 25
                        if isIPv4 || isIPv6 {
                            // struct sock_extended_err (16 bytes), then the offender's sockaddr.
                            let payload = offset + ((headerSize + 7) & ~7)
                            guard payload + 16 <= offset + length else { return }
                            let origin = controlBytes[payload + 4]
                            let type = controlBytes[payload + 5], code = controlBytes[payload + 6]
                            guard origin == 2 || origin == 3 else { return } // SO_EE_ORIGIN_ICMP / ICMP6
                            let addressStart = payload + 16
                            var storage = sockaddr_storage()
                            let available = min(MemoryLayout<sockaddr_storage>.size, offset + length - addressStart)
                            withUnsafeMutableBytes(of: &storage) { raw in
                                for index in 0..<available { raw[index] = controlBytes[addressStart + index] }
                            }
                            if let from = address(from: storage) {
                                offender = ICMPErrorReport(from: from, type: type, code: code, isICMPv6: origin == 3)
                            }
                            return
                        }
                        offset += (length + 7) & ~7
                    }
                }
            }
        }
        return offender
    }
}
