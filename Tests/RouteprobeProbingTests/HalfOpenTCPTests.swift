import Foundation
import Testing
@testable import RouteprobeProbing
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeCapture
import RouteprobeTestSupport

/// The half-open TCP prober's packets: the SYN it builds and the answers it reads, without any network.
@Suite struct HalfOpenTCPPacketTests {
    let source = IPAddress("192.168.0.193")!
    let target = IPAddress("172.16.1.12")!

    /// One's-complement sum over the pseudo-header and the segment: 0 when the checksum in it is right.
    func verify(_ segment: [UInt8], from source: IPAddress, to destination: IPAddress) -> UInt16 {
        var pseudo = source.bytes + destination.bytes
        pseudo += source.family == .inet ? [0, 6, 0, UInt8(segment.count)] : [0, 0, 0, UInt8(segment.count), 0, 0, 0, 6]
        return internetChecksum(pseudo + segment)
    }

    @Test func theSYNCarriesPortsSequenceAndAValidChecksum() {
        let syn = HalfOpenTCP.syn(from: source, port: 40000, to: target, port: 9700, sequence: 0xdead_beef)
        #expect(syn.count == 24)
        #expect(readUInt16(syn[...], at: 0) == 40000 && readUInt16(syn[...], at: 2) == 9700)
        #expect(Array(syn[4..<8]) == [0xde, 0xad, 0xbe, 0xef])
        #expect(syn[13] == 0x02, "SYN only")
        #expect(syn[12] >> 4 == 6, "a 24-byte header: the MSS option")
        #expect(verify(syn, from: source, to: target) == 0)
        // The checksum covers the addresses: the same segment from another source does not verify.
        #expect(verify(syn, from: IPAddress("192.168.0.50")!, to: target) != 0)
        let v6 = HalfOpenTCP.syn(from: IPAddress("2001:db8::1")!, port: 40000, to: IPAddress("2001:db8::2")!, port: 80, sequence: 7)
        #expect(verify(v6, from: IPAddress("2001:db8::1")!, to: IPAddress("2001:db8::2")!) == 0)
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

    @Test func synAcksAndResetsAreRead() throws {
        let synAck = ipv4(target, source, proto: 6, payload: 20) + segment(source: 9700, destination: 40000, acknowledgment: 0xdead_bef0, flags: 0x12)
        let answer = try #require(TCPAnswer.parse(synAck[...], family: .inet))
        #expect(answer.sourcePort == 9700 && answer.destinationPort == 40000 && answer.acknowledgment == 0xdead_bef0)
        #expect(answer.isSynAck && !answer.isReset)
        let reset = ipv4(target, source, proto: 6, payload: 20) + segment(source: 9700, destination: 40000, acknowledgment: 1, flags: 0x14)
        #expect(try #require(TCPAnswer.parse(reset[...], family: .inet)).isReset)
        // IPv6 raw sockets deliver the segment without the IP header.
        let v6 = segment(source: 80, destination: 40000, acknowledgment: 8, flags: 0x12)
        #expect(TCPAnswer.parse(v6[...], family: .inet6)?.acknowledgment == 8)
    }

    @Test func truncatedOrForeignSegmentsAreIgnored() {
        let synAck = ipv4(target, source, proto: 6, payload: 20) + segment(source: 9700, destination: 40000, acknowledgment: 1, flags: 0x12)
        for length in 0..<synAck.count { #expect(TCPAnswer.parse(synAck[0..<length], family: .inet) == nil, "\(length) bytes") }
        let udp = ipv4(target, source, proto: 17, payload: 20) + segment(source: 9700, destination: 40000, acknowledgment: 1, flags: 0x12)
        #expect(TCPAnswer.parse(udp[...], family: .inet) == nil)
        var badLength = synAck
        badLength[0] = 0x44   // a header length of 16 bytes
        #expect(TCPAnswer.parse(badLength[...], family: .inet) == nil)
    }

    @Test func anICMPErrorIsMatchedThroughTheQuotedSYN() throws {
        let router = IPAddress("192.168.0.253")!
        let syn = HalfOpenTCP.syn(from: source, port: 40000, to: target, port: 9700, sequence: 0x0102_0304)
        let quoted = ipv4(source, target, proto: 6, payload: syn.count) + syn.prefix(8)
        let error = ipv4(router, source, proto: 1, payload: 8 + quoted.count) + [3, 1, 0, 0, 0, 0, 0, 0] + quoted
        let parsed = try #require(QuotedTCP.parse(error[...], family: .inet))
        #expect(parsed == QuotedTCP(type: 3, code: 1, destination: target, sourcePort: 40000, destinationPort: 9700, sequence: 0x0102_0304))
        for length in 0..<error.count { #expect(QuotedTCP.parse(error[0..<length], family: .inet) == nil, "\(length) bytes") }
        // An echo reply, or an error quoting UDP, is not ours.
        var echo = error
        echo[20] = 0
        #expect(QuotedTCP.parse(echo[...], family: .inet) == nil)
        var quotedUDP = error
        quotedUDP[28 + 9] = 17
        #expect(QuotedTCP.parse(quotedUDP[...], family: .inet) == nil)
    }

    @Test func randomBytesNeverCrashTheParsers() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let length = Int.random(in: 0...80, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty && Bool.random() { bytes[0] = 0x45 }
            for family in [AddressFamily.inet, .inet6] {
                _ = TCPAnswer.parse(bytes[...], family: family)
                _ = QuotedTCP.parse(bytes[...], family: family)
            }
        }
    }
}

/// Both TCP methods, half-open (raw SYNs) and connect(), on the lab: the same outcome for every kind of path.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct TCPMethodLabTests {
    @Test func halfOpenAndConnectAgreeOnEveryOutcome() async throws {
        try await withLab(nodes: 4) { lab in
            try lab.run("reject", "node-b")
            try lab.run("break-vpc-route", "node-d")
            let nodeA = lab.namespace("node-a")
            try ip("-n", nodeA, "route", "add", "blackhole", "10.99.0.0/16")
            try ip("-n", nodeA, "route", "add", "unreachable", "10.98.0.0/16")
            let expected: [(String, UInt16, ProbeOutcome)] = [
                ("172.16.2.12", 9700, .reply),       // node-c's pod: its beacon answers
                ("192.168.0.60", 9, .refused),       // node-c's host: nothing on port 9
                ("172.16.1.12", 9700, .icmpError),   // node-b's CIDR: the VPC router rejects it
                ("172.16.3.12", 9700, .timeout),     // node-d's CIDR: no VPC route, a black hole
                ("10.99.0.1", 80, .localError),      // blackhole route on node-a
                ("10.98.0.1", 80, .localError),      // unreachable route on node-a
            ]
            let specs = expected.map { ProbeSpec(target: IPAddress($0.0)!, probeProtocol: .tcp, port: $0.1) }
            let options = ProbeOptions(count: 2, timeout: .milliseconds(700), interval: .milliseconds(50),
                                       namespace: NetworkNamespace(nodeA))
            let halfOpen = try TCPProber(method: .halfOpen).probe(specs, options: options)
            let connected = try TCPProber(method: .connect).probe(specs, options: options)
            for (index, (target, _, outcome)) in expected.enumerated() {
                #expect(halfOpen[index].outcome == outcome, "half-open \(target): \(halfOpen[index])")
                #expect(connected[index].outcome == outcome, "connect \(target): \(connected[index])")
                #expect(halfOpen[index].localErrno == connected[index].localErrno, "\(target)")
                #expect(halfOpen[index].icmpError == connected[index].icmpError, "\(target)")
            }
            #expect(halfOpen[2].icmpError?.from == IPAddress("192.168.0.253"))
            #expect(halfOpen[0].sent == 2 && halfOpen[0].received == 2)
            #expect(halfOpen[4].localErrno == EINVAL && halfOpen[5].localErrno == EHOSTUNREACH)
        }
    }
}

/// Capture problems are reported, not swallowed: an interface that cannot be opened, and frames the kernel
/// dropped because the ring was full (the evidence then undercounts).
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct CaptureProblemTests {
    @Test func aFullRingAndAMissingInterfaceAreReported() async throws {
        try await withLabNamespace { namespace in
            try ip("-n", namespace, "route", "add", "local", "10.200.0.0/16", "dev", "lo")
            let inside = NetworkNamespace(namespace)
            // A 16 kB ring holds about 80 frames; 2,000 echoes at once make 4,000 within a few milliseconds.
            let capture = try PacketCapture(devices: ["lo", "rpt-missing0"], filter: "icmp", namespace: inside, bufferSize: 16 << 10)
            capture.start()
            let specs = (1...2000).map { ProbeSpec(target: .v4(0x0ac8_0000 + UInt32($0)), probeProtocol: .icmp) }
            let results = try ICMPProber().probe(specs, options: ProbeOptions(timeout: .milliseconds(500), concurrency: 2000, namespace: inside))
            let packets = capture.stop()
            #expect(results.filter { $0.outcome == .reply }.count == 2000)
            #expect(capture.kernelDrops > 0, "\(packets.count) frames read")
            #expect(packets.count + capture.kernelDrops == 4000)
            let problems = capture.problems
            #expect(problems.contains { $0.contains("rpt-missing0") }, "\(problems)")
            #expect(problems.contains { $0.contains("dropped \(capture.kernelDrops) frames") }, "\(problems)")

            // The default ring (about 2,400 frames) takes a 1,000-echo burst whole even before any is read.
            let roomy = try PacketCapture(devices: ["lo"], filter: "icmp", namespace: inside)
            roomy.start()
            _ = try ICMPProber().probe(Array(specs.prefix(1000)), options: ProbeOptions(timeout: .milliseconds(500), concurrency: 1000, namespace: inside))
            #expect(roomy.stop().count == 2000)
            #expect(roomy.kernelDrops == 0 && roomy.problems.isEmpty, "\(roomy.problems)")
        }
    }
}
