import Foundation
import Testing
import RouteprobeTestSupport

/// Agents in the lab, alerting to a real rsyslogd.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct AgentLabTests {
    /// An agent process on one lab node.
    func agentProcess(lab: Lab, node: String, syslogSocket: String, extra: [String] = []) throws -> LabProcess {
        try LabProcess(namespace: lab.namespace(node), name: "agent",
                       arguments: ["agent", "--node-name", node, "--cluster-map", lab.mapPath, "--interval", "1s", "--timeout", "400ms",
                                   "--failures-to-open", "2", "--syslog", "unix:\(syslogSocket)"] + extra)
    }

    /// Syslog lines as fields: VERSION|FACILITY|SEVERITY|HOSTNAME|APP|PROCID|MSGID|SD|MSG.
    func records(_ collector: Rsyslog, atLeast count: Int, timeout: TimeInterval, where matches: ([String]) -> Bool = { _ in true }) async throws -> [[String]] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let all = collector.lines(atLeast: 0, timeout: 0).map {
                $0.split(separator: "|", maxSplits: 8, omittingEmptySubsequences: false).map(String.init)
            }.filter { $0.count == 9 && matches($0) }
            if all.count >= count || Date() > deadline { return all }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test func aMissingVPCRouteIsAlertedByEverySourceAndResolved() async throws {
        try await withLab { lab in
            let collector = try Rsyslog()
            defer { collector.stop() }
            let agents = try ["node-a", "node-c"].map { try agentProcess(lab: lab, node: $0, syslogSocket: collector.socketPath) }
            defer { for agent in agents where agent.process.isRunning { _ = agent.stop() } }

            // A healthy lab: several rounds, no alert at all.
            try await Task.sleep(for: .milliseconds(3500))
            #expect(try await records(collector, atLeast: 1, timeout: 0).isEmpty, "alerts in a healthy lab: \(collector.lines(atLeast: 0, timeout: 0))")

            // The incident: both sources name the entry within two rounds (plus a probe timeout and slack).
            try lab.run("break-vpc-route", "node-b")
            let opened = try await records(collector, atLeast: 2, timeout: 5) { $0[6] == "vpcRouteMissing" && $0[7].contains("state=\"open\"") }
            #expect(Set(opened.map { $0[3] }) == ["node-a", "node-c"], "agents: \(agents.map(\.log))")
            for record in opened {
                #expect(record[2] == "3")
                #expect(record[7].contains("cidr=\"172.16.1.0/24\" nextHopNode=\"node-b\" nextHopIP=\"192.168.0.50\""))
                #expect(record[8].contains("VPC route entry missing: 172.16.1.0/24 -> node-b (192.168.0.50)"))
            }

            try lab.run("restore-vpc-route", "node-b")
            let resolved = try await records(collector, atLeast: 2, timeout: 5) { $0[7].contains("state=\"resolved\"") }
            #expect(Set(resolved.map { $0[3] }) == ["node-a", "node-c"])
            #expect(try await records(collector, atLeast: 99, timeout: 0) { $0[6] == "vpcRouteMissing" && $0[7].contains("state=\"open\"") }.count == 2,
                    "each finding opened exactly once")

            // Shutdown: SIGTERM stops each agent within 2 s.
            for agent in agents {
                let took = agent.stop()
                #expect(took.map { $0 < 2 } == true, "shutdown took \(String(describing: took)) s")
                #expect(agent.process.terminationStatus == 0)
            }
        }
    }

    @Test func aDownNodeIsNodeUnreachableNotARouteFinding() async throws {
        try await withLab { lab in
            let collector = try Rsyslog()
            defer { collector.stop() }
            let agent = try agentProcess(lab: lab, node: "node-a", syslogSocket: collector.socketPath)
            defer { _ = agent.stop() }
            try await Task.sleep(for: .milliseconds(1500))
            try lab.run("node-down", "node-c")
            let down = try await records(collector, atLeast: 1, timeout: 6) { $0[6] == "nodeUnreachable" }
            #expect(down.count == 1, "agent: \(agent.log)")
            #expect(down.first?[7].contains("nextHopNode=\"node-c\"") == true)
            #expect(down.first?[7].contains("cidr=") == false, "a down node is about the node, not a CIDR")
            #expect(down.first?[2] == "4", "warning")
            #expect(try await records(collector, atLeast: 99, timeout: 0) { $0[6] == "vpcRouteMissing" }.isEmpty)
            try lab.run("node-up", "node-c")
            let back = try await records(collector, atLeast: 1, timeout: 6) { $0[6] == "nodeUnreachable" && $0[7].contains("state=\"resolved\"") }
            #expect(back.count == 1)
        }
    }

    @Test func aMissingHostGatewayRouteIsAFindingOnThatNodeOnly() async throws {
        try await withLab(mode: "hostgw") { lab in
            let collector = try Rsyslog()
            defer { collector.stop() }
            let agents = try ["node-a", "node-c"].map { try agentProcess(lab: lab, node: $0, syslogSocket: collector.socketPath) }
            defer { for agent in agents { _ = agent.stop() } }
            try await Task.sleep(for: .milliseconds(2500))
            #expect(try await records(collector, atLeast: 1, timeout: 0).isEmpty, "alerts in a healthy host-gw lab")
            try ip("-n", lab.namespace("node-a"), "route", "del", "172.16.1.0/24")
            let found = try await records(collector, atLeast: 1, timeout: 5) { $0[6] == "kernelRouteMissing" }
            #expect(found.count == 1, "agents: \(agents.map(\.log))")
            #expect(found.first?[3] == "node-a")
            #expect(found.first?[7].contains("cidr=\"172.16.1.0/24\" nextHopNode=\"node-b\"") == true)
            try await Task.sleep(for: .milliseconds(1500))
            let everything = try await records(collector, atLeast: 99, timeout: 0)
            #expect(everything.allSatisfy { $0[3] == "node-a" }, "node-c raised nothing: \(everything)")
            #expect(!everything.contains { $0[6] == "vpcRouteMissing" }, "the fall-through to the VPC is not blamed on the VPC")
        }
    }

    func fetch(_ namespace: String, _ url: String) throws -> (Int, String) { try httpRequest(in: namespace, url) }

    @Test func metricsShowProbesRoundsAndOpenFindings() async throws {
        try await withLab { lab in
            let collector = try Rsyslog()
            defer { collector.stop() }
            let agent = try agentProcess(lab: lab, node: "node-a", syslogSocket: collector.socketPath,
                                         extra: ["--metrics-listen", "127.0.0.1:9701"])
            defer { _ = agent.stop() }
            try await Task.sleep(for: .milliseconds(2500))
            let (status, body) = try fetch(lab.namespace("node-a"), "http://127.0.0.1:9701/metrics")
            #expect(status == 200, "\(body) / \(agent.log)")
            #expect(body.contains(#"routeprobe_probe_success{target="172.16.1.12",protocol="icmp"} 1"#))
            #expect(body.contains(#"routeprobe_probe_success{target="172.16.2.12",protocol="tcp"} 1"#))
            #expect(body.contains(#"routeprobe_findings_open{kind="vpcRouteMissing"} 0"#))
            #expect(body.contains("routeprobe_round_duration_seconds_count"))
            #expect(body.contains(#"routeprobe_probe_outcomes_total{protocol="tcp",outcome="reply"}"#))
            #expect(body.contains("routeprobe_probe_rtt_seconds_bucket"))
            // promtool (Debian's prometheus package) checks the exposition format and metric naming.
            let lint = try runProgram("/usr/bin/promtool", ["check", "metrics"], input: body)
            #expect(lint.status == 0, "promtool: \(lint.standardOutput) \(lint.standardError)")
            let routes = body.split(separator: "\n").first { $0.hasPrefix("routeprobe_route_table_routes ") }
            #expect(routes.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 3 } == true, "\(String(describing: routes))")

            try lab.run("break-vpc-route", "node-b")
            _ = try await records(collector, atLeast: 1, timeout: 6) { $0[6] == "vpcRouteMissing" }
            let (_, broken) = try fetch(lab.namespace("node-a"), "http://127.0.0.1:9701/metrics")
            #expect(broken.contains(#"routeprobe_findings_open{kind="vpcRouteMissing"} 1"#), "\(broken)")
            #expect(broken.contains(#"routeprobe_probe_success{target="172.16.1.12",protocol="icmp"} 0"#))

            let (notFound, _) = try fetch(lab.namespace("node-a"), "http://127.0.0.1:9701/")
            #expect(notFound == 404)
        }
    }

    @Test func badAgentFlagsAreOneLineAndExitTwo() async throws {
        let executable = try routeprobeExecutable()
        for (arguments, expected) in [(["agent"], "--node-name is required"),
                                      (["agent", "--node-name", "x", "--cluster-map", "/nonexistent"], "cannot read cluster map"),
                                      (["agent", "--node-name", "x", "--cluster-map", "/dev/null", "--interval", "fast"], "cluster map"),
                                      (["agent", "--config", "/nonexistent"], "cannot read config"),
                                      (["agent", "--node-name", "x", "--cluster-map", "/dev/null", "--metrics-listen", "nowhere"], "cluster map")] {
            let result = try runProgram(executable, arguments)
            #expect(result.status == 2, "\(arguments): \(result.standardError)")
            #expect(result.standardError.contains(expected), "\(arguments): \(result.standardError)")
        }
    }
}
