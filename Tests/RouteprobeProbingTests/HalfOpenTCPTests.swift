import Foundation
import Testing
@testable import RouteprobeProbing
import RouteprobeCore
import RouteprobeSystem
import RouteprobeCapture
import RouteprobeTestSupport

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
            try capture.start()
            let specs = (1...2000).map { ProbeSpec(target: .v4(0x0ac8_0000 + UInt32($0)), probeProtocol: .icmp) }
            let results = try ICMPProber().probe(specs, options: ProbeOptions(timeout: .milliseconds(500), concurrency: 2000, namespace: inside))
            let packets = capture.stop()
            #expect(results.filter { $0.outcome == .reply }.count == 2000)
            #expect(capture.kernelDrops > 0, "\(packets.count) frames read")
            #expect(packets.count + capture.kernelDrops == 4000)
            let problems = capture.problems
            #expect(problems.contains { if case .interfaceUnavailable("rpt-missing0", _) = $0 { true } else { false } }, "\(problems)")
            #expect(problems.contains(.kernelDrops(interface: "lo", frames: capture.kernelDrops)), "\(problems)")

            // The default ring (about 2,400 frames) takes a 1,000-echo burst whole even before any is read.
            let roomy = try PacketCapture(devices: ["lo"], filter: "icmp", namespace: inside)
            try roomy.start()
            _ = try ICMPProber().probe(Array(specs.prefix(1000)), options: ProbeOptions(timeout: .milliseconds(500), concurrency: 1000, namespace: inside))
            #expect(roomy.stop().count == 2000)
            #expect(roomy.kernelDrops == 0 && roomy.problems.isEmpty, "\(roomy.problems)")
        }
    }
}
