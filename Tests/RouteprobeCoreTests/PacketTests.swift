import Testing
@testable import RouteprobeCore
import RouteprobeTestSupport


/// The one packet module: what the probers send and what they and the dissector read.
@Suite struct PacketTests {
    let source = IPAddress("192.168.0.193")!
    let target = IPAddress("172.16.1.12")!

    /// The Internet checksum over the pseudo-header and the segment: 0 when the checksum in it is right.
    func verify(_ segment: [UInt8], from source: IPAddress, to destination: IPAddress) -> UInt16 {
        var withoutChecksum = segment
        let stored = UInt16(segment[16]) << 8 | UInt16(segment[17])
        withoutChecksum[16] = 0
        withoutChecksum[17] = 0
        return InternetChecksum.compute(segment: withoutChecksum, protocol: .tcp, source: source, destination: destination) ^ stored
    }

    @Test func theChecksumIsRFC1071s() {
        // RFC 1071 section 3's example: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2, its complement 220d.
        #expect(InternetChecksum.compute([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]) == 0x220d)
        // An odd byte count pads with zero.
        #expect(InternetChecksum.compute([0x01]) == ~UInt16(0x0100))
    }

    @Test func theSYNCarriesPortsSequenceAndAValidChecksum() throws {
        let syn = TCPSegment.synBytes(from: source, port: 40000, to: target, port: 9700, sequence: 0xdead_beef)
        #expect(syn.count == 24)
        let parsed = try TCPSegment.parse(syn[...])
        #expect(parsed == TCPSegment(sourcePort: 40000, destinationPort: 9700, sequence: 0xdead_beef, flags: TCPSegment.syn))
        #expect(parsed.isSyn && !parsed.isSynAck && !parsed.isReset)
        #expect(syn[12] >> 4 == 6, "a 24-byte header: the MSS option")
        #expect(verify(syn, from: source, to: target) == 0)
        // The checksum covers the addresses: the same segment from another source does not verify.
        #expect(verify(syn, from: IPAddress("192.168.0.50")!, to: target) != 0)
        let v6 = TCPSegment.synBytes(from: IPAddress("2001:db8::1")!, port: 40000, to: IPAddress("2001:db8::2")!, port: 80, sequence: 7)
        #expect(verify(v6, from: IPAddress("2001:db8::1")!, to: IPAddress("2001:db8::2")!) == 0)
    }

    @Test func anEchoRequestCarriesItsIdentifierSequenceAndChecksum() throws {
        let request = ICMPMessage.echoRequest(family: .inet, identifier: 0x1234, sequence: 7)
        #expect(InternetChecksum.compute(request) == 0, "a packet with its checksum in sums to zero")
        #expect(try ICMPMessage.parse(request[...], family: .inet) == .echo(isRequest: true, identifier: 0x1234, sequence: 7))
        let v6 = ICMPMessage.echoRequest(family: .inet6, identifier: 9, sequence: 1)
        #expect(v6[0] == 128 && v6[2] == 0 && v6[3] == 0, "the kernel fills in ICMPv6's checksum")
    }

    /// An IPv4 header (20 bytes, protocol `proto`) from `from` to `to`.
    func ipv4(_ from: IPAddress, _ to: IPAddress, proto: UInt8, payload: Int) -> [UInt8] {
        let length = 20 + payload
        return [0x45, 0, UInt8(length >> 8), UInt8(length & 0xff), 0, 0, 0x40, 0, 64, proto, 0, 0] + from.bytes + to.bytes
    }

    func segment(source: UInt16, destination: UInt16, sequence: UInt32 = 0, acknowledgment: UInt32, flags: UInt8) -> [UInt8] {
        func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)] }
        return [UInt8(source >> 8), UInt8(source & 0xff), UInt8(destination >> 8), UInt8(destination & 0xff)]
            + be32(sequence) + be32(acknowledgment) + [5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]
    }

    @Test func synAcksAndResetsFromRawSocketsAreRead() throws {
        let synAck = ipv4(target, source, proto: 6, payload: 20) + segment(source: 9700, destination: 40000, acknowledgment: 0xdead_bef0, flags: 0x12)
        let answer = try RawSocketPacket.tcp(synAck[...], family: .inet)
        #expect(answer.sourcePort == 9700 && answer.destinationPort == 40000 && answer.acknowledgment == 0xdead_bef0)
        #expect(answer.isSynAck && !answer.isReset)
        let reset = ipv4(target, source, proto: 6, payload: 20) + segment(source: 9700, destination: 40000, acknowledgment: 1, flags: 0x14)
        #expect(try RawSocketPacket.tcp(reset[...], family: .inet).isReset)
        // IPv6 raw sockets deliver the segment without the IP header.
        let v6 = segment(source: 80, destination: 40000, acknowledgment: 8, flags: 0x12)
        #expect(try RawSocketPacket.tcp(v6[...], family: .inet6).acknowledgment == 8)
    }

    @Test func truncatedOrForeignSegmentsAreRefused() {
        let synAck = ipv4(target, source, proto: 6, payload: 20) + segment(source: 9700, destination: 40000, acknowledgment: 1, flags: 0x12)
        for length in 0..<synAck.count {
            #expect(throws: PacketError.self, "\(length) bytes") { try RawSocketPacket.tcp(synAck[0..<length], family: .inet) }
        }
        let udp = ipv4(target, source, proto: 17, payload: 20) + segment(source: 9700, destination: 40000, acknowledgment: 1, flags: 0x12)
        #expect(throws: PacketError.unsupported("protocol 17")) { try RawSocketPacket.tcp(udp[...], family: .inet) }
        var badLength = synAck
        badLength[0] = 0x44   // a header length of 16 bytes
        #expect(throws: PacketError.truncated("IPv4 options")) { try RawSocketPacket.tcp(badLength[...], family: .inet) }
        var fragment = synAck
        fragment[7] = 0x10    // fragment offset 16: no TCP header in it
        #expect(throws: PacketError.unsupported("a later fragment")) { try RawSocketPacket.tcp(fragment[...], family: .inet) }
    }

    @Test func anICMPErrorQuotesTheSYNThatCausedIt() throws {
        let router = IPAddress("192.168.0.253")!
        let syn = TCPSegment.synBytes(from: source, port: 40000, to: target, port: 9700, sequence: 0x0102_0304)
        let quoted = ipv4(source, target, proto: 6, payload: syn.count) + syn.prefix(8)
        let error = ipv4(router, source, proto: 1, payload: 8 + quoted.count) + [3, 1, 0, 0, 0, 0, 0, 0] + quoted
        let parsed = try RawSocketPacket.icmp(error[...], family: .inet)
        #expect(parsed == .error(type: 3, code: 1, quoted: QuotedPacket(
            source: source, destination: target, protocolNumber: 6, sourcePort: 40000, destinationPort: 9700, tcpSequence: 0x0102_0304)))
        // Cut anywhere before the quoted ports, the message is refused or quotes no ports.
        for length in 0..<error.count {
            let cut = try? RawSocketPacket.icmp(error[0..<length], family: .inet)
            if case .error(_, _, let quoted)? = cut { #expect(quoted.sourcePort == nil, "\(length) bytes") } else { #expect(cut == nil, "\(length) bytes") }
        }
        var echo = error
        echo[20] = 0
        #expect(try RawSocketPacket.icmp(echo[...], family: .inet) == .echo(isRequest: false, identifier: 0, sequence: 0))
        var quotedUDP = error
        quotedUDP[28 + 9] = 17
        guard case .error(_, _, let udp) = try RawSocketPacket.icmp(quotedUDP[...], family: .inet) else {
            Issue.record("an error quoting UDP is still an error")
            return
        }
        #expect(udp.protocolNumber == 17 && udp.sourcePort == nil && udp.tcpSequence == nil)
    }

    @Test func anICMPv6ErrorQuotesAnEchoRequest() throws {
        let from = IPAddress("fd00::1")!, to = IPAddress("fd00:1::12")!
        let request = ICMPMessage.echoRequest(family: .inet6, identifier: 0x4242, sequence: 3)
        let header: [UInt8] = [0x60, 0, 0, 0, 0, UInt8(request.count), 58, 64] + from.bytes + to.bytes
        let error: [UInt8] = [1, 3, 0, 0, 0, 0, 0, 0] + header + request
        let parsed = try RawSocketPacket.icmp(error[...], family: .inet6)
        #expect(parsed == .error(type: 1, code: 3, quoted: QuotedPacket(
            source: from, destination: to, protocolNumber: 58, echoIdentifier: 0x4242, echoSequence: 3)))
    }

    /// Random bytes, from a fixed seed: every input is either read consistently with its own bytes or
    /// refused with a PacketError; none crashes.
    @Test func randomBytesAreReadConsistentlyOrRefused() {
        var generator = SplitMix64(seed: 0x5eed)
        var read = 0, refused = 0
        for _ in 0..<5000 {
            let length = Int.random(in: 0...80, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty, Bool.random(using: &generator) { bytes[0] = 0x45 }
            for family in [AddressFamily.inet, .inet6] {
                do {
                    let segment = try RawSocketPacket.tcp(bytes[...], family: family)
                    let start = family == .inet ? Int(bytes[0] & 0x0f) * 4 : 0
                    #expect(segment.sourcePort == UInt16(bytes[start]) << 8 | UInt16(bytes[start + 1]))
                    #expect(segment.flags == bytes[start + 13])
                    read += 1
                } catch {
                    refused += 1
                }
                if case .echo(_, let identifier, _)? = try? RawSocketPacket.icmp(bytes[...], family: family) {
                    let start = family == .inet ? Int(bytes[0] & 0x0f) * 4 : 0
                    #expect(identifier == UInt16(bytes[start + 4]) << 8 | UInt16(bytes[start + 5]))
                }
            }
        }
        // The seed gives both kinds: some inputs are whole segments, most are not.
        #expect(read > 0 && refused > read)
    }

    @Test func hardwareAddressesReadAndPrintAsPeopleWriteThem() {
        let address = HardwareAddress(bytes: [0x02, 0x00, 0x5e, 0x10, 0xab, 0xcd])
        #expect(address?.description == "02:00:5e:10:ab:cd")
        #expect(HardwareAddress("02:00:5E:10:AB:CD") == address)
        #expect(HardwareAddress(bytes: [1, 2, 3]) == nil)
        #expect(HardwareAddress("02:00:5e:10:ab") == nil && HardwareAddress("02:00:5e:10:ab:zz") == nil)
    }
}
