import Foundation
import Testing
import RouteprobeTestSupport

/// `routeprobe probe` in the lab (scripts/lab.sh), one fault per test, judged from its JSON.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct ProbeLabTests {
    struct Probe {
        let status: Int32
        let objects: [[String: Any]]
        let standardError: String

        func object(_ target: String, _ protocolName: String) throws -> [String: Any] {
            guard let found = objects.first(where: { $0["target"] as? String == target && $0["protocol"] as? String == protocolName }) else {
                throw LabError("no \(protocolName) result for \(target) in \(objects)")
            }
            return found
        }
    }

    /// Runs `routeprobe probe` from node-a's namespace with the lab's cluster map and parses its JSON.
    func probe(_ lab: Lab, _ arguments: [String], from node: String = "node-a") throws -> Probe {
        let result = try runProgram(try routeprobeExecutable(),
                                    ["probe", "--netns", lab.namespace(node), "--cluster-map", lab.mapPath, "--timeout", "1s", "--json"] + arguments)
        let data = Data(result.standardOutput.utf8)
        let objects = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] ?? []
        return Probe(status: result.status, objects: objects, standardError: result.standardError)
    }

    @Test func podsAnswerICMPAndTCPAndAClosedPortIsStillReachable() async throws {
        try await withLab { lab in
            let result = try probe(lab, ["172.16.1.12", "192.168.0.60", "--icmp", "--tcp", "9700"])
            #expect(result.status == 0, "\(result.standardError)")
            for (target, proto, outcome) in [("172.16.1.12", "icmp", "reply"), ("172.16.1.12", "tcp", "reply"),
                                             ("192.168.0.60", "icmp", "reply"), ("192.168.0.60", "tcp", "refused")] {
                let object = try result.object(target, proto)
                #expect(object["outcome"] as? String == outcome, "\(proto) \(target)")
                #expect(object["verdict"] as? String == "reachable", "\(proto) \(target)")
                #expect((object["rttMs"] as? Double).map { $0 > 0 } == true)
            }
            #expect((try result.object("172.16.1.12", "tcp")["route"] as? [String: Any])?["class"] as? String == "vpc")
        }
    }

    @Test func aMissingVPCRouteIsNamedAndItsPacketsAreWritten() async throws {
        try await withLab { lab in
            try lab.run("break-vpc-route", "node-b")
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.prefix)captures").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try probe(lab, ["node-b", "--capture-dir", directory])
            #expect(result.status == 1)
            for proto in ["icmp", "tcp"] {
                let object = try result.object("172.16.1.12", proto)
                #expect(object["verdict"] as? String == "vpcRouteMissing", "\(proto): \(object)")
                #expect((object["message"] as? String)?.contains("172.16.1.0/24 -> node-b (192.168.0.50)") == true)
                let evidence = try #require(object["evidence"] as? [String: Any])
                #expect((evidence["sent"] as? Int ?? 0) >= 1, "the capture saw the requests leave")
                #expect(evidence["received"] as? Int == 0)
                let pcap = try #require(evidence["pcap"] as? String)
                let dump = try runProgram("/usr/bin/tcpdump", ["-nr", pcap])
                #expect(dump.status == 0, "\(dump.standardError)")
                #expect(dump.standardOutput.contains("> 172.16.1.12"))
            }
        }
    }

    @Test func aRejectingRouterIsNamed() async throws {
        try await withLab { lab in
            try lab.run("reject", "node-b")
            let result = try probe(lab, ["172.16.1.12"])
            #expect(result.status == 1)
            for proto in ["icmp", "tcp"] {
                let object = try result.object("172.16.1.12", proto)
                #expect(object["verdict"] as? String == "rejectedByRouter", "\(proto): \(object)")
                #expect(object["outcome"] as? String == "icmpError")
                let evidence = try #require(object["evidence"] as? [String: Any])
                #expect(evidence["icmpFrom"] as? String == "192.168.0.253")
                #expect(evidence["icmpType"] as? Int == 3 && evidence["icmpCode"] as? Int == 1)
            }
        }
    }

    @Test func aBlackholedKernelRouteIsTheNodesOwnProblem() async throws {
        try await withLab { lab in
            try lab.run("break-kernel-route", "node-a", "node-b")
            let result = try probe(lab, ["172.16.1.12"])
            #expect(result.status == 1)
            for proto in ["icmp", "tcp"] {
                let object = try result.object("172.16.1.12", proto)
                #expect(object["verdict"] as? String == "kernelRouteMissing", "\(proto): \(object)")
                #expect((object["route"] as? [String: Any])?["class"] as? String == "unreachable")
            }
        }
    }

    @Test func aHostGatewayRouteViaTheWrongNodeIsWrong() async throws {
        try await withLab(mode: "hostgw") { lab in
            try ip("-n", lab.namespace("node-a"), "route", "replace", "172.16.1.0/24", "via", "192.168.0.60")
            let result = try probe(lab, ["172.16.1.12", "--icmp"])
            #expect(result.status == 1)
            let object = try result.object("172.16.1.12", "icmp")
            #expect(object["verdict"] as? String == "kernelRouteWrong", "\(object)")
            #expect((object["route"] as? [String: Any])?["gateway"] as? String == "192.168.0.60")
        }
    }

    @Test func aDownNodeIsNotARouteProblem() async throws {
        try await withLab { lab in
            try lab.run("node-down", "node-b")
            let result = try probe(lab, ["172.16.1.12", "--icmp"])
            #expect(result.status == 1)
            let object = try result.object("172.16.1.12", "icmp")
            #expect(object["verdict"] as? String == "nodeUnreachable", "\(object)")
            #expect((object["control"] as? [String: Any])?["outcome"] as? String == "timeout")
        }
    }

    @Test func badInputIsOneLineAndExitTwo() async throws {
        try await withLab(nodes: 2) { lab in
            let executable = try routeprobeExecutable()
            let broken = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.prefix)bad-map.yaml").path
            try "nodes:\n  - name: node-a\n    ip: 192.168.0.999\n".write(toFile: broken, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: broken) }
            let cases: [([String], String)] = [
                (["probe", "no-such-host.invalid"], "unknown host"),
                (["probe", "10.0.0.1", "--timeout", "soon"], "--timeout"),
                (["probe", "10.0.0.1", "--tcp", "70000"], "70000"),
                (["probe", "10.0.0.1", "--cluster-map", broken], "not an IP address"),
                (["probe", "10.0.0.1", "--netns", lab.prefix + "nowhere"], "cannot enter network namespace"),
            ]
            for (arguments, expected) in cases {
                let result = try runProgram(executable, arguments)
                #expect(result.status == 2, "\(arguments): \(result.standardError)")
                let lines = result.standardError.split(separator: "\n")
                #expect(lines.first?.contains(expected) == true, "\(arguments): \(result.standardError)")
                #expect(lines.count <= 2, "\(arguments): \(result.standardError)")
            }
        }
    }
}
