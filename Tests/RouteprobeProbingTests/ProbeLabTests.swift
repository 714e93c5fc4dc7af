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

    @Test("dual stack: node-b's missing IPv6 entry is named for its IPv6 CIDR and host, with the SYN and echo seen leaving; IPv4 still reaches")
    func aMissingIPv6EntryOnADualStackNode() async throws {
        try await withLab(dualStack: true) { lab in
            try lab.run("break-vpc-route", "node-b", "--family", "6")
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.prefix)captures6").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try probe(lab, ["node-b", "--capture-dir", directory])
            #expect(result.status == 1)
            for proto in ["icmp", "tcp"] {
                let object = try result.object("fd00:172:16:1::12", proto)
                #expect(object["verdict"] as? String == "vpcRouteMissing", "\(proto): \(object)")
                #expect((object["message"] as? String)?.contains("fd00:172:16:1::/64 -> node-b (fd00:192:168::50)") == true, "\(object)")
                #expect((object["control"] as? [String: Any])?["target"] as? String == "fd00:192:168::50")
                let evidence = try #require(object["evidence"] as? [String: Any])
                #expect((evidence["sent"] as? Int ?? 0) >= 1, "the capture saw the \(proto) requests leave over IPv6")
                let pcap = try #require(evidence["pcap"] as? String)
                let dump = try runProgram("/usr/bin/tcpdump", ["-nr", pcap])
                #expect(dump.standardOutput.contains("> fd00:172:16:1::12"), "\(dump.standardOutput)")
                #expect(try result.object("172.16.1.12", proto)["verdict"] as? String == "reachable")
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
                // Shaped like an address: refused at once, without asking DNS.
                (["probe", "300.1.1.1"], "'300.1.1.1' is not an IPv4 address: four numbers from 0 to 255"),
                (["probe", "fd00::zz"], "'fd00::zz' is not an IPv6 address"),
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

/// IPv6 probes and missing privileges, in a namespace of their own.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct ProbeIPv6AndPrivilegeTests {
    func json(_ result: ProgramResult) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))) as? [[String: Any]] ?? []
    }

    @Test func icmpv6AndTCPOverIPv6AreProbed() async throws {
        try await withLabNamespace { namespace in
            // A reachable address (::1), one behind a prohibit route (the kernel refuses), and a closed port.
            try ip("-n", namespace, "-6", "route", "add", "prohibit", "2001:db8:dead::/48")
            let executable = try routeprobeExecutable()
            let result = try runProgram(executable, ["probe", "--netns", namespace, "::1", "2001:db8:dead::1", "--icmp",
                                                     "--timeout", "1s", "--json"])
            let objects = json(result)
            #expect(result.status == 1, "\(result.standardError)")
            let loopback = try #require(objects.first { $0["target"] as? String == "::1" })
            #expect(loopback["outcome"] as? String == "reply")
            #expect((loopback["route"] as? [String: Any])?["class"] as? String == "local")
            let prohibited = try #require(objects.first { $0["target"] as? String == "2001:db8:dead::1" })
            #expect(prohibited["verdict"] as? String == "kernelRouteMissing")
            let closed = try runProgram(executable, ["probe", "--netns", namespace, "::1", "--tcp", "9", "--json"])
            #expect(json(closed).first?["outcome"] as? String == "refused")
            #expect(closed.status == 0)
        }
    }

    @Test func withoutCapNetRawICMPIsAClearErrorAndTCPStillWorks() async throws {
        try await withLabNamespace { namespace in
            let executable = try routeprobeExecutable()
            // As root but with CAP_NET_RAW removed from the bounding set: raw sockets and captures are refused.
            let icmp = try runProgram("/usr/bin/setpriv", ["--bounding-set=-net_raw", "--", "/usr/sbin/ip", "netns", "exec", namespace,
                                                           executable, "probe", "127.0.0.1", "--icmp", "--no-capture"])
            #expect(icmp.status == 1, "a missing permission is exit 1: \(icmp.standardError)")
            #expect(icmp.standardError.contains("CAP_NET_RAW"), "\(icmp.standardError)")
            #expect(icmp.standardError.split(separator: "\n").count == 1)
            let capture = try runProgram("/usr/bin/setpriv", ["--bounding-set=-net_raw", "--", "/usr/sbin/ip", "netns", "exec", namespace,
                                                              executable, "probe", "127.0.0.1", "--tcp", "9"])
            // The capture cannot run: the probe runs anyway, says why on stderr, and keeps its verdict.
            #expect(capture.status == 0 && capture.standardOutput.contains("verdict:  reachable"), "\(capture.standardOutput) \(capture.standardError)")
            #expect(capture.standardError.contains("the capture was skipped (") && capture.standardError.contains("CAP_NET_RAW"), "\(capture.standardError)")
            // The agent without it stops at start with the capability and the fix, instead of probing nothing.
            let map = FileManager.default.temporaryDirectory.appendingPathComponent("\(namespace)-map.yaml").path
            try "nodes:\n  - name: node-a\n    ip: 127.0.0.1\n    podCIDRs: [172.16.0.0/24]\n  - name: node-b\n    ip: 127.0.0.2\n    podCIDRs: [172.16.1.0/24]\n"
                .write(toFile: map, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: map) }
            let agent = try runProgram("/usr/bin/setpriv", ["--bounding-set=-net_raw", "--", "/usr/sbin/ip", "netns", "exec", namespace,
                                                            executable, "agent", "--node-name", "node-a", "--cluster-map", map,
                                                            "--syslog", "unix:/nonexistent/syslog.sock"])
            #expect(agent.status == 1, "\(agent.standardOutput) \(agent.standardError)")
            #expect(agent.standardError.contains("the agent needs CAP_NET_RAW") && agent.standardError.contains("securityContext.capabilities"), "\(agent.standardError)")
            #expect(agent.standardError.split(separator: "\n").count == 1, "\(agent.standardError)")
            let tcp = try runProgram("/usr/bin/setpriv", ["--bounding-set=-net_raw", "--", "/usr/sbin/ip", "netns", "exec", namespace,
                                                          executable, "probe", "127.0.0.1", "--tcp", "9", "--no-capture"])
            #expect(tcp.status == 0, "TCP needs no privilege: \(tcp.standardError)")
        }
    }
}
