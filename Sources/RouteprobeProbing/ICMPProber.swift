// ICMP and ICMPv6 echo over raw sockets: one socket per family for all targets; replies and errors are
// matched back to their probe through the identifier and sequence (for errors, in the quoted packet).
import RouteprobeCore
import RouteprobeSystem
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
            let socket = try probing { () throws(SystemError) in
                try OwnedDescriptor.socket(SocketFamily(family), .raw(.icmp(for: family)), in: options.namespace)
            }
            try? socket.set(.receiveBuffer, 4 << 20)
            // Only echo replies and errors reach the socket.
            try probing { () throws(SystemError) in
                try socket.allowICMPTypes([ICMPMessage.echoReplyType(family)] + (family == .inet ? [3, 11, 12] : [1, 2, 3, 4]), family: family)
            }
            sockets[family] = socket
        }
        var run = ProbeRun(specs: specs, options: options)
        var receiveBuffer = [UInt8](repeating: 0, count: ICMPProber.receiveBatch * ICMPProber.receiveSlot)
        let families = Array(sockets.keys)
        var poller = PollSet(families.map { sockets[$0]!.fd })

        while !run.finished {
            let now = MonotonicClock.nanoseconds()
            // The sends that are due, a batch per family, each batch one system call.
            var due: [AddressFamily: [(index: Int, attempt: Int)]] = [:]
            while let next = run.nextSend(now: now) { due[specs[next.index].target.family, default: []].append(next) }
            for (family, batch) in due { send(batch, run: &run, socket: sockets[family]!, now: now) }
            guard let (_, ready) = try run.expireAndWait(on: &poller, now: now) else { break }
            if ready == 0 { continue }
            for (position, family) in families.enumerated() where poller.isReady(position) {
                try receiveAll(socket: sockets[family]!, family: family, buffer: &receiveBuffer, run: &run)
            }
        }
        return run.results()
    }

    /// Datagrams read per system call, and the bytes kept of each: an echo reply is 44 bytes with its IPv4
    /// header, an error quotes the request's headers, and nothing past those is read.
    static let receiveBatch = 64
    static let receiveSlot = 256

    private func send(_ batch: [(index: Int, attempt: Int)], run: inout ProbeRun, socket: OwnedDescriptor, now: UInt64) {
        let datagrams = batch.map { probe in
            let target = run.specs[probe.index].target
            let sequence = UInt16(truncatingIfNeeded: probe.attempt * run.specs.count + probe.index)
            return (bytes: ICMPMessage.echoRequest(family: target.family, identifier: identifier, sequence: sequence),
                    to: SocketAddress.ip(target, port: 0))
        }
        var next = 0
        while next < batch.count {
            do throws(SystemError) {
                let sent = try socket.send(datagrams[next...])
                for probe in batch[next..<(next + sent)] { run.markSent(index: probe.index, attempt: probe.attempt, now: now) }
                next += sent
            } catch {
                // The first of the rest failed: a full queue puts it and the rest back, anything else is its
                // own answer (the local kernel refused to send to that target).
                if error.errno == EAGAIN || error.errno == ENOBUFS {
                    for probe in batch[next...] { run.retryLater(index: probe.index, attempt: probe.attempt, now: now) }
                    return
                }
                run.record(index: batch[next].index, attempt: batch[next].attempt, outcome: .localError, now: now, localErrno: error.errno)
                next += 1
            }
        }
    }

    private func receiveAll(socket: OwnedDescriptor, family: AddressFamily, buffer: inout [UInt8], run: inout ProbeRun) throws(ProbeError) {
        while true {
            let datagrams = try probing { () throws(SystemError) in try socket.receive(into: &buffer, slotSize: ICMPProber.receiveSlot) }
            if datagrams.isEmpty { return }
            let now = MonotonicClock.nanoseconds()
            for (slot, datagram) in datagrams.enumerated() {
                let start = slot * ICMPProber.receiveSlot
                let packet = buffer[start..<(start + min(datagram.length, ICMPProber.receiveSlot))]
                guard let sender = datagram.sender?.ipAddress, let message = try? RawSocketPacket.icmp(packet, family: family) else { continue }
                switch message {
                case .echo(isRequest: false, let replyIdentifier, let sequence):
                    guard replyIdentifier == identifier, let (index, attempt) = run.probe(forSlot: Int(sequence)),
                          sender == run.specs[index].target else { continue }
                    run.record(index: index, attempt: attempt, outcome: .reply, now: now)
                case .error(let type, let code, let quoted):
                    guard quoted.echoIdentifier == identifier, let sequence = quoted.echoSequence,
                          let (index, attempt) = run.probe(forSlot: Int(sequence)),
                          quoted.destination == run.specs[index].target else { continue }
                    run.record(index: index, attempt: attempt, outcome: .icmpError, now: now,
                               icmpError: ICMPErrorReport(from: sender, type: type, code: code, isICMPv6: family == .inet6))
                case .echo, .other:
                    continue
                }
            }
            if datagrams.count < ICMPProber.receiveBatch { return }
        }
    }
}
