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
import RouteprobeSystem
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
        return try probing { () throws(SystemError) -> Endpoint in
            let tcp = try OwnedDescriptor.socket(SocketFamily(family), .raw(.tcp), in: namespace)
            let icmp = try OwnedDescriptor.socket(SocketFamily(family), .raw(.icmp(for: family)), in: namespace)
            let reservation = try OwnedDescriptor.socket(SocketFamily(family), .stream, in: namespace)
            let lookup = try OwnedDescriptor.socket(SocketFamily(family), .datagram, in: namespace)
            try reservation.bind(to: .ip(v4 ? IPAddress.v4(0) : IPAddress.v6(0, 0), port: 0))
            guard let port = try reservation.localAddress().port, port != 0 else {
                throw SystemError.systemCall(call: "getsockname(SOCK_STREAM)", errno: EINVAL)
            }
            try tcp.set(.receiveBuffer, 4 << 20)
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
            try tcp.attachFilter(filter)
            // The ICMP socket takes errors only: destination unreachable, time exceeded (and packet too big,
            // parameter problem).
            try icmp.allowICMPTypes(v4 ? [3, 11, 12] : [1, 2, 3, 4], family: family)
            return Endpoint(family: family, tcp: tcp, icmp: icmp, reservation: reservation, lookup: lookup, port: port)
        }
    }

    func probe() throws(ProbeError) -> [ProbeResult] {
        var run = ProbeRun(specs: specs, options: options)
        var sources: [IPAddress: Result<IPAddress, SourceLookupFailure>] = [:]
        var buffer = [UInt8](repeating: 0, count: 2048)
        var poller = PollSet()
        var sockets: [(endpoint: Endpoint, isICMP: Bool)] = []
        for endpoint in endpoints.values {
            poller.add(endpoint.tcp.fd)
            sockets.append((endpoint, false))
            poller.add(endpoint.icmp.fd)
            sockets.append((endpoint, true))
        }
        while !run.finished {
            let now = MonotonicClock.nanoseconds()
            while let (index, attempt) = run.nextSend(now: now) {
                let target = specs[index].target
                let source: Result<IPAddress, SourceLookupFailure>
                if let known = sources[target] { source = known } else {
                    source = options.sourceAddresses[target].map { .success($0) } ?? sourceAddress(for: target)
                    sources[target] = source
                }
                send(index: index, attempt: attempt, source: source, run: &run, now: now)
            }
            guard let (_, ready) = try run.expireAndWait(on: &poller, now: now) else { break }
            if ready == 0 { continue }
            for (position, socket) in sockets.enumerated() where poller.isReady(position) {
                if socket.isICMP {
                    try receiveErrors(endpoint: socket.endpoint, buffer: &buffer, run: &run)
                } else {
                    try receiveSegments(endpoint: socket.endpoint, buffer: &buffer, run: &run)
                }
            }
        }
        return run.results()
    }

    private struct SourceLookupFailure: Error { let errno: Int32 }

    /// The address the kernel sends from towards `target`, or the errno of its route lookup
    /// (ENETUNREACH, EHOSTUNREACH, EACCES for prohibit, EINVAL for blackhole routes).
    private func sourceAddress(for target: IPAddress) -> Result<IPAddress, SourceLookupFailure> {
        let socket = endpoints[target.family]!.lookup
        socket.disconnect()
        do throws(SystemError) {
            try socket.connect(to: .ip(target, port: 9))
            guard let address = try socket.localAddress().ipAddress else { return .failure(SourceLookupFailure(errno: EAFNOSUPPORT)) }
            return .success(address)
        } catch {
            return .failure(SourceLookupFailure(errno: error.errno))
        }
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
        let segment = TCPSegment.synBytes(from: from, port: endpoint.port, to: spec.target, port: spec.port!,
                                          sequence: base &+ UInt32(truncatingIfNeeded: slot))
        do throws(SystemError) {
            try endpoint.tcp.send(segment, to: .ip(spec.target, port: 0))
            run.markSent(index: index, attempt: attempt, now: now)
        } catch {
            switch error.errno {
            case EAGAIN, ENOBUFS: run.retryLater(index: index, attempt: attempt, now: now)
            default: run.record(index: index, attempt: attempt, outcome: .localError, now: now, localErrno: error.errno)
            }
        }
    }

    /// SYN-ACKs and RSTs coming back to our port.
    private func receiveSegments(endpoint: Endpoint, buffer: inout [UInt8], run: inout ProbeRun) throws(ProbeError) {
        while let (received, from) = try probing({ () throws(SystemError) in try endpoint.tcp.receive(into: &buffer) }) {
            let now = MonotonicClock.nanoseconds()
            guard let sender = from?.ipAddress, let answer = try? RawSocketPacket.tcp(buffer[0..<received], family: endpoint.family),
                  answer.destinationPort == endpoint.port,
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
    private func receiveErrors(endpoint: Endpoint, buffer: inout [UInt8], run: inout ProbeRun) throws(ProbeError) {
        while let (received, from) = try probing({ () throws(SystemError) in try endpoint.icmp.receive(into: &buffer) }) {
            let now = MonotonicClock.nanoseconds()
            guard let sender = from?.ipAddress,
                  case .error(let type, let code, let quoted)? = try? RawSocketPacket.icmp(buffer[0..<received], family: endpoint.family),
                  quoted.protocolNumber == IPProtocolNumber.tcp.rawValue, quoted.sourcePort == endpoint.port,
                  let sequence = quoted.tcpSequence,
                  let (index, attempt) = run.probe(forSlot: Int(sequence &- base)) else { continue }
            let spec = specs[index]
            guard quoted.destination == spec.target, quoted.destinationPort == spec.port else { continue }
            run.record(index: index, attempt: attempt, outcome: .icmpError, now: now,
                       icmpError: ICMPErrorReport(from: sender, type: type, code: code, isICMPv6: endpoint.family == .inet6))
        }
    }
}
