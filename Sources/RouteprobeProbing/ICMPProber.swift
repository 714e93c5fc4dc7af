// ICMP and ICMPv6 echo over raw sockets: one socket per family for all targets; replies and errors are
// matched back to their probe through the identifier and sequence (for errors, in the quoted packet).
import RouteprobeCore
import RouteprobeNetlink
#if canImport(Glibc)
import Glibc
#endif

/// Probes with ICMP echo requests. Needs CAP_NET_RAW.
public struct ICMPProber: Prober {
    public var probeProtocol: ProbeProtocol { .icmp }

    /// The echo identifier this prober uses; replies with another identifier belong to someone else.
    public let identifier: UInt16

    /// Builds a prober; by default with a fresh random identifier.
    public init(identifier: UInt16 = UInt16.random(in: 1...UInt16.max)) { self.identifier = identifier }

    public func probe(_ specs: [ProbeSpec], options: ProbeOptions) throws(ProbeError) -> [ProbeResult] {
        guard specs.count * options.count <= 65536 else {
            throw ProbeError.invalid("at most 65536 ICMP probes per run (targets x count); split the run")
        }
        if specs.isEmpty { return [] }
        var sockets: [AddressFamily: OwnedDescriptor] = [:]
        for family in Set(specs.map(\.target.family)) {
            let proto = family == .inet ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6)
            let socket = try openSocket(family: family, type: Int32(SOCK_RAW.rawValue), protocol: proto,
                                        name: family == .inet ? "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)" : "socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)",
                                        namespace: options.namespace)
            try? setOption(socket.fd, SOL_SOCKET, SO_RCVBUF, 4 << 20, name: "SO_RCVBUF")
            // Only echo replies and errors reach the socket.
            allowICMPTypes(socket.fd, family: family, family == .inet ? [0, 3, 11] : [1, 3, 129])
            sockets[family] = socket
        }
        var run = ProbeRun(specs: specs, options: options)
        var receiveBuffer = [UInt8](repeating: 0, count: 4096)
        var descriptors = sockets.map { pollfd(fd: $0.value.fd, events: Int16(POLLIN), revents: 0) }
        let families = sockets.map(\.key)

        while !run.finished {
            let now = monotonicNanoseconds()
            while let (index, attempt) = run.nextSend(now: now) {
                send(index: index, attempt: attempt, run: &run, socket: sockets[specs[index].target.family]!.fd, now: now)
            }
            run.expire(now: now)
            if run.finished { break }
            let wait = run.nextWakeup(now: now)
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(min(wait / 1_000_000 + 1, 1000)))
            if ready <= 0 { continue }
            for (position, descriptor) in descriptors.enumerated() where descriptor.revents != 0 {
                receiveAll(fd: descriptor.fd, family: families[position], buffer: &receiveBuffer, run: &run)
                descriptors[position].revents = 0
            }
        }
        return run.results()
    }

    private func send(index: Int, attempt: Int, run: inout ProbeRun, socket fd: Int32, now: UInt64) {
        let target = run.specs[index].target
        let sequence = UInt16(truncatingIfNeeded: attempt * run.specs.count + index)
        var packet: [UInt8] = [target.family == .inet ? 8 : 128, 0, 0, 0,
                               UInt8(identifier >> 8), UInt8(identifier & 0xff), UInt8(sequence >> 8), UInt8(sequence & 0xff)]
        // 16 bytes of payload: a marker and the send time, as ping does.
        packet += Array("routeprobe".utf8) + [0, 0, 0, 0, 0, 0]
        if target.family == .inet {
            let checksum = internetChecksum(packet)
            packet[2] = UInt8(checksum >> 8)
            packet[3] = UInt8(checksum & 0xff)
        }
        let code = sendDatagram(fd, packet, to: target)
        if code != 0 {
            if code == EAGAIN || code == ENOBUFS {
                run.retryLater(index: index, attempt: attempt, now: now)
            } else {
                run.record(index: index, attempt: attempt, outcome: .localError, now: now, localErrno: code)
            }
            return
        }
        run.markSent(index: index, attempt: attempt, sequence: sequence, now: now)
    }

    private func receiveAll(fd: Int32, family: AddressFamily, buffer: inout [UInt8], run: inout ProbeRun) {
        while let (received, from) = receiveDatagram(fd, into: &buffer) {
            let now = monotonicNanoseconds()
            let packet = buffer[0..<received]
            guard let sender = from,
                  let answer = family == .inet ? ICMPPacket.parseIPv4(packet) : ICMPPacket.parseICMPv6(packet, sender: sender),
                  answer.identifier == identifier,
                  let (index, attempt) = run.probe(forSequence: answer.sequence) else { continue }
            let target = run.specs[index].target
            if answer.isReply {
                guard sender == target else { continue }
                run.record(index: index, attempt: attempt, outcome: .reply, now: now)
            } else {
                guard answer.quotedDestination == nil || answer.quotedDestination == target else { continue }
                run.record(index: index, attempt: attempt, outcome: .icmpError, now: now,
                           icmpError: ICMPErrorReport(from: sender, type: answer.type, code: answer.code, isICMPv6: family == .inet6))
            }
        }
    }
}

/// What an received ICMP message says about one of our echo requests.
struct ICMPPacket: Equatable {
    var type: UInt8
    var code: UInt8
    var identifier: UInt16
    var sequence: UInt16
    var isReply: Bool
    /// For errors: the destination of the quoted (original) packet.
    var quotedDestination: IPAddress?

    /// An IPv4 packet from a raw ICMP socket (IP header included): an echo reply, or an error quoting an
    /// echo request. Nil for anything else or anything malformed.
    static func parseIPv4(_ packet: ArraySlice<UInt8>) -> ICMPPacket? {
        guard let first = packet.first, first >> 4 == 4 else { return nil }
        let headerLength = Int(first & 0x0f) * 4
        guard headerLength >= 20, packet.count >= headerLength + 8 else { return nil }
        let icmp = packet.dropFirst(headerLength)
        let type = icmp[icmp.startIndex], code = icmp[icmp.startIndex + 1]
        if type == 0 {
            guard let identifier = readUInt16(icmp, at: 4), let sequence = readUInt16(icmp, at: 6) else { return nil }
            return ICMPPacket(type: type, code: code, identifier: identifier, sequence: sequence, isReply: true)
        }
        guard type == 3 || type == 11 else { return nil }
        let quoted = icmp.dropFirst(8)
        guard let quotedFirst = quoted.first, quotedFirst >> 4 == 4 else { return nil }
        let quotedHeaderLength = Int(quotedFirst & 0x0f) * 4
        guard quotedHeaderLength >= 20, quoted.count >= quotedHeaderLength + 8,
              quoted[quoted.startIndex + 9] == 1 /* ICMP */ else { return nil }
        let destination = IPAddress(bytes: quoted[(quoted.startIndex + 16)..<(quoted.startIndex + 20)])
        let quotedICMP = quoted.dropFirst(quotedHeaderLength)
        guard quotedICMP[quotedICMP.startIndex] == 8, let identifier = readUInt16(quotedICMP, at: 4),
              let sequence = readUInt16(quotedICMP, at: 6) else { return nil }
        return ICMPPacket(type: type, code: code, identifier: identifier, sequence: sequence, isReply: false,
                          quotedDestination: destination)
    }

    /// An ICMPv6 message from a raw ICMPv6 socket (no IP header): an echo reply, or an error quoting an
    /// echo request.
    static func parseICMPv6(_ packet: ArraySlice<UInt8>, sender: IPAddress) -> ICMPPacket? {
        guard packet.count >= 8 else { return nil }
        let type = packet[packet.startIndex], code = packet[packet.startIndex + 1]
        if type == 129 {
            guard let identifier = readUInt16(packet, at: 4), let sequence = readUInt16(packet, at: 6) else { return nil }
            return ICMPPacket(type: type, code: code, identifier: identifier, sequence: sequence, isReply: true)
        }
        guard type == 1 || type == 3 else { return nil }
        let quoted = packet.dropFirst(8)
        guard quoted.count >= 48, quoted[quoted.startIndex] >> 4 == 6, quoted[quoted.startIndex + 6] == 58 else { return nil }
        let destination = IPAddress(bytes: quoted[(quoted.startIndex + 24)..<(quoted.startIndex + 40)])
        let quotedICMP = quoted.dropFirst(40)
        guard quotedICMP[quotedICMP.startIndex] == 128, let identifier = readUInt16(quotedICMP, at: 4),
              let sequence = readUInt16(quotedICMP, at: 6) else { return nil }
        return ICMPPacket(type: type, code: code, identifier: identifier, sequence: sequence, isReply: false,
                          quotedDestination: destination)
    }
}
