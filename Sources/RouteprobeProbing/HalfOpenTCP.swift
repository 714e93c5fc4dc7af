// Half-open TCP probes, as `nmap -sS` sends them: a SYN per attempt from one raw socket, the SYN-ACK (reply)
// or RST (refused) read back from it, and ICMP errors quoting the SYN from a raw ICMP socket.
//
// No socket owns these connections, so the kernel answers a SYN-ACK with a RST by itself and neither side
// keeps any state. The source port is held by a TCP socket that is bound and never listens or connects:
// nothing else can take the port, and the kernel still finds no socket for the answers. Against a
// connect() per probe this saves a socket, a poll entry and a close per probe, and the target's stack
// builds no connection either: about 40% of the agent's CPU at 1,000 targets. Needs CAP_NET_RAW; without
// it TCPProber falls back to connect().
import RouteprobeCore
import RouteprobeNetlink
#if canImport(Glibc)
import Glibc
#endif

struct HalfOpenTCP {
    /// The sockets of one address family.
    private struct Endpoint {
        let family: AddressFamily
        /// Sends the SYNs and receives what comes back to `port`.
        let tcp: OwnedDescriptor
        /// Receives ICMP errors.
        let icmp: OwnedDescriptor
        /// Holds the source port.
        let reservation: OwnedDescriptor
        /// Finds the source address of each target (a UDP connect is a route lookup).
        let lookup: OwnedDescriptor
        let port: UInt16
    }

    private let specs: [ProbeSpec]
    private let options: ProbeOptions
    private var endpoints: [AddressFamily: Endpoint] = [:]
    /// The sequence number of slot 0; slot n sends `base + n`, and the answer acknowledges `base + n + 1`.
    private let base = UInt32.random(in: 0...UInt32.max)

    /// Opens the sockets; fails with `missingCapability` without CAP_NET_RAW.
    init(specs: [ProbeSpec], options: ProbeOptions) throws(ProbeError) {
        self.specs = specs
        self.options = options
        for family in Set(specs.map(\.target.family)) {
            endpoints[family] = try HalfOpenTCP.open(family: family, namespace: options.namespace)
        }
    }

    private static func open(family: AddressFamily, namespace: NetworkNamespace?) throws(ProbeError) -> Endpoint {
        let v4 = family == .inet
        let tcp = try openSocket(family: family, type: Int32(SOCK_RAW.rawValue), protocol: Int32(IPPROTO_TCP),
                                 name: v4 ? "socket(AF_INET, SOCK_RAW, IPPROTO_TCP)" : "socket(AF_INET6, SOCK_RAW, IPPROTO_TCP)",
                                 namespace: namespace)
        let icmp = try openSocket(family: family, type: Int32(SOCK_RAW.rawValue), protocol: v4 ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6),
                                  name: v4 ? "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)" : "socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)",
                                  namespace: namespace)
        let reservation = try openSocket(family: family, type: Int32(SOCK_STREAM.rawValue), protocol: 0,
                                         name: "socket(SOCK_STREAM)", namespace: namespace)
        let lookup = try openSocket(family: family, type: Int32(SOCK_DGRAM.rawValue), protocol: 0,
                                    name: "socket(SOCK_DGRAM)", namespace: namespace)
        let code = bindSocket(reservation.fd, to: v4 ? IPAddress.v4(0) : IPAddress.v6(0, 0), port: 0)
        guard code == 0, let (_, port) = boundAddress(of: reservation.fd) else {
            throw ProbeError.system(call: "bind(SOCK_STREAM, port 0)", errno: code == 0 ? EINVAL : code)
        }
        try setOption(tcp.fd, SOL_SOCKET, SO_RCVBUF, 4 << 20, name: "SO_RCVBUF")
        // Only segments to our port reach the socket: the filter runs before anything is queued. An IPv4
        // raw socket sees the IP header (skip it, and fragments); an IPv6 one starts at the TCP header.
        let filter: [SocketFilterInstruction] = v4 ? [
            SocketFilterInstruction(0x28, 0, 0, 6),                 // ldh [6]: flags and fragment offset
            SocketFilterInstruction(0x45, 4, 0, 0x1fff),            // jset #0x1fff: a later fragment -> drop
            SocketFilterInstruction(0xb1, 0, 0, 0),                 // ldxb 4*([0]&0xf): the IP header length
            SocketFilterInstruction(0x48, 0, 0, 2),                 // ldh [x+2]: the destination port
            SocketFilterInstruction(0x15, 0, 1, UInt32(port)),      // jeq #port
            SocketFilterInstruction(0x06, 0, 0, 0xffff),            // ret: accept
            SocketFilterInstruction(0x06, 0, 0, 0),                 // ret: drop
        ] : [
            SocketFilterInstruction(0x28, 0, 0, 2),                 // ldh [2]: the destination port
            SocketFilterInstruction(0x15, 0, 1, UInt32(port)),      // jeq #port
            SocketFilterInstruction(0x06, 0, 0, 0xffff),
            SocketFilterInstruction(0x06, 0, 0, 0),
        ]
        let attached = attachSocketFilter(tcp.fd, filter)
        if attached != 0 { throw ProbeError.system(call: "setsockopt(SO_ATTACH_FILTER)", errno: attached) }
        // The ICMP socket takes errors only: destination unreachable and time exceeded (packet too big for v6).
        allowICMPTypes(icmp.fd, family: family, v4 ? [3, 11] : [1, 2, 3])
        return Endpoint(family: family, tcp: tcp, icmp: icmp, reservation: reservation, lookup: lookup, port: port)
    }

    func probe() -> [ProbeResult] {
        var run = ProbeRun(specs: specs, options: options)
        var sources: [IPAddress: Result<IPAddress, SourceLookupFailure>] = [:]
        var buffer = [UInt8](repeating: 0, count: 2048)
        var descriptors: [pollfd] = []
        var families: [(AddressFamily, isICMP: Bool)] = []
        for endpoint in endpoints.values {
            descriptors.append(pollfd(fd: endpoint.tcp.fd, events: Int16(POLLIN), revents: 0))
            families.append((endpoint.family, false))
            descriptors.append(pollfd(fd: endpoint.icmp.fd, events: Int16(POLLIN), revents: 0))
            families.append((endpoint.family, true))
        }
        while !run.finished {
            let now = monotonicClock()
            while let (index, attempt) = run.nextSend(now: now) {
                let target = specs[index].target
                let source: Result<IPAddress, SourceLookupFailure>
                if let known = sources[target] { source = known } else {
                    source = options.sourceAddresses[target].map { .success($0) } ?? sourceAddress(for: target)
                    sources[target] = source
                }
                send(index: index, attempt: attempt, source: source, run: &run, now: now)
            }
            run.expire(now: now)
            if run.finished { break }
            let wait = run.nextWakeup(now: now)
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(min(wait / 1_000_000 + 1, 1000)))
            if ready <= 0 { continue }
            for position in descriptors.indices where descriptors[position].revents != 0 {
                descriptors[position].revents = 0
                let (family, isICMP) = families[position]
                if isICMP {
                    receiveErrors(fd: descriptors[position].fd, family: family, buffer: &buffer, run: &run)
                } else {
                    receiveSegments(fd: descriptors[position].fd, family: family, buffer: &buffer, run: &run)
                }
            }
        }
        return run.results()
    }

    private struct SourceLookupFailure: Error { let errno: Int32 }

    /// The address the kernel sends from towards `target`, or the errno of its route lookup
    /// (ENETUNREACH, EHOSTUNREACH, EACCES for prohibit, EINVAL for blackhole routes).
    private func sourceAddress(for target: IPAddress) -> Result<IPAddress, SourceLookupFailure> {
        let fd = endpoints[target.family]!.lookup.fd
        disconnectDatagramSocket(fd)
        let code = startConnect(fd, to: target, port: 9)
        if code != 0 { return .failure(SourceLookupFailure(errno: code)) }
        guard let (address, _) = boundAddress(of: fd) else { return .failure(SourceLookupFailure(errno: errno)) }
        return .success(address)
    }

    private func send(index: Int, attempt: Int, source: Result<IPAddress, SourceLookupFailure>, run: inout ProbeRun, now: UInt64) {
        let spec = specs[index]
        let endpoint = endpoints[spec.target.family]!
        let from: IPAddress
        switch source {
        case .failure(let failure):
            run.record(index: index, attempt: attempt, outcome: .localError, now: now, localErrno: failure.errno)
            return
        case .success(let address): from = address
        }
        let slot = attempt * specs.count + index
        let segment = HalfOpenTCP.syn(from: from, port: endpoint.port, to: spec.target, port: spec.port!,
                                      sequence: base &+ UInt32(truncatingIfNeeded: slot))
        let code = sendDatagram(endpoint.tcp.fd, segment, to: spec.target)
        switch code {
        case 0: run.markSent(index: index, attempt: attempt, now: now)
        case EAGAIN, ENOBUFS: run.retryLater(index: index, attempt: attempt, now: now)
        default: run.record(index: index, attempt: attempt, outcome: .localError, now: now, localErrno: code)
        }
    }

    /// A SYN with an MSS option, its checksum over the pseudo-header of `source` and `destination`.
    static func syn(from source: IPAddress, port sourcePort: UInt16, to destination: IPAddress, port destinationPort: UInt16,
                    sequence: UInt32) -> [UInt8] {
        var segment: [UInt8] = [
            UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xff),
            UInt8(sequence >> 24), UInt8((sequence >> 16) & 0xff), UInt8((sequence >> 8) & 0xff), UInt8(sequence & 0xff),
            0, 0, 0, 0,                 // acknowledgment
            6 << 4, 0x02,               // 24-byte header; SYN
            0xfa, 0xf0,                 // window 64,240
            0, 0, 0, 0,                 // checksum, urgent pointer
            2, 4, 0x05, 0xb4,           // MSS 1,460
        ]
        var pseudo = source.bytes + destination.bytes
        if source.family == .inet {
            pseudo += [0, UInt8(IPPROTO_TCP), 0, UInt8(segment.count)]
        } else {
            pseudo += [0, 0, 0, UInt8(segment.count), 0, 0, 0, UInt8(IPPROTO_TCP)]
        }
        let checksum = internetChecksum(pseudo + segment)
        segment[16] = UInt8(checksum >> 8)
        segment[17] = UInt8(checksum & 0xff)
        return segment
    }

    /// SYN-ACKs and RSTs coming back to our port.
    private func receiveSegments(fd: Int32, family: AddressFamily, buffer: inout [UInt8], run: inout ProbeRun) {
        let port = endpoints[family]!.port
        while let (received, sender) = receiveDatagram(fd, into: &buffer) {
            let now = monotonicClock()
            guard let sender, let answer = TCPAnswer.parse(buffer[0..<received], family: family), answer.destinationPort == port,
                  let (index, attempt) = run.probe(forSlot: Int(answer.acknowledgment &- 1 &- base)) else { continue }
            let spec = specs[index]
            guard sender == spec.target, answer.sourcePort == spec.port else { continue }
            if answer.isReset {
                run.record(index: index, attempt: attempt, outcome: .refused, now: now)
            } else if answer.isSynAck {
                run.record(index: index, attempt: attempt, outcome: .reply, now: now)
            }
        }
    }

    /// ICMP errors quoting one of our SYNs.
    private func receiveErrors(fd: Int32, family: AddressFamily, buffer: inout [UInt8], run: inout ProbeRun) {
        let port = endpoints[family]!.port
        while let (received, sender) = receiveDatagram(fd, into: &buffer) {
            let now = monotonicClock()
            guard let sender, let error = QuotedTCP.parse(buffer[0..<received], family: family), error.sourcePort == port,
                  let (index, attempt) = run.probe(forSlot: Int(error.sequence &- base)) else { continue }
            let spec = specs[index]
            guard error.destination == spec.target, error.destinationPort == spec.port else { continue }
            run.record(index: index, attempt: attempt, outcome: .icmpError, now: now,
                       icmpError: ICMPErrorReport(from: sender, type: error.type, code: error.code, isICMPv6: family == .inet6))
        }
    }
}

/// A TCP segment read from a raw socket (IPv4: with its IP header; IPv6: from the TCP header on).
struct TCPAnswer: Equatable {
    var sourcePort: UInt16
    var destinationPort: UInt16
    var acknowledgment: UInt32
    var flags: UInt8

    var isReset: Bool { flags & 0x04 != 0 }
    var isSynAck: Bool { flags & 0x12 == 0x12 }

    /// Nil for anything that is not a whole TCP header.
    static func parse(_ packet: ArraySlice<UInt8>, family: AddressFamily) -> TCPAnswer? {
        var tcp = packet
        if family == .inet {
            guard let first = packet.first, first >> 4 == 4 else { return nil }
            let headerLength = Int(first & 0x0f) * 4
            guard headerLength >= 20, packet.count >= headerLength, packet[packet.startIndex + 9] == UInt8(IPPROTO_TCP) else { return nil }
            tcp = packet.dropFirst(headerLength)
        }
        guard tcp.count >= 20, let sourcePort = readUInt16(tcp, at: 0), let destinationPort = readUInt16(tcp, at: 2),
              let high = readUInt16(tcp, at: 8), let low = readUInt16(tcp, at: 10) else { return nil }
        return TCPAnswer(sourcePort: sourcePort, destinationPort: destinationPort, acknowledgment: UInt32(high) << 16 | UInt32(low),
                         flags: tcp[tcp.startIndex + 13])
    }
}

/// An ICMP error that quotes a TCP segment: what it says and which segment it quotes.
struct QuotedTCP: Equatable {
    var type: UInt8
    var code: UInt8
    var destination: IPAddress
    var sourcePort: UInt16
    var destinationPort: UInt16
    var sequence: UInt32

    /// An ICMP message from a raw socket (IPv4: with its IP header; ICMPv6: without). Nil for anything that
    /// is not an error quoting at least the first 8 bytes of a TCP segment.
    static func parse(_ packet: ArraySlice<UInt8>, family: AddressFamily) -> QuotedTCP? {
        var icmp = packet
        if family == .inet {
            guard let first = packet.first, first >> 4 == 4 else { return nil }
            let headerLength = Int(first & 0x0f) * 4
            guard headerLength >= 20, packet.count >= headerLength + 8 else { return nil }
            icmp = packet.dropFirst(headerLength)
        }
        guard icmp.count >= 8 else { return nil }
        let type = icmp[icmp.startIndex], code = icmp[icmp.startIndex + 1]
        let quoted = icmp.dropFirst(8)
        let destination: IPAddress
        let segment: ArraySlice<UInt8>
        if family == .inet {
            guard type == 3 || type == 11, let first = quoted.first, first >> 4 == 4 else { return nil }
            let headerLength = Int(first & 0x0f) * 4
            guard headerLength >= 20, quoted.count >= headerLength + 8, quoted[quoted.startIndex + 9] == UInt8(IPPROTO_TCP),
                  let address = IPAddress(bytes: quoted[(quoted.startIndex + 16)..<(quoted.startIndex + 20)]) else { return nil }
            destination = address
            segment = quoted.dropFirst(headerLength)
        } else {
            guard type >= 1 && type <= 3, quoted.count >= 48, quoted[quoted.startIndex] >> 4 == 6,
                  quoted[quoted.startIndex + 6] == UInt8(IPPROTO_TCP),
                  let address = IPAddress(bytes: quoted[(quoted.startIndex + 24)..<(quoted.startIndex + 40)]) else { return nil }
            destination = address
            segment = quoted.dropFirst(40)
        }
        guard let sourcePort = readUInt16(segment, at: 0), let destinationPort = readUInt16(segment, at: 2),
              let high = readUInt16(segment, at: 4), let low = readUInt16(segment, at: 6) else { return nil }
        return QuotedTCP(type: type, code: code, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort,
                         sequence: UInt32(high) << 16 | UInt32(low))
    }
}
