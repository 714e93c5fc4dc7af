import Foundation
import Testing
import RouteprobeConfiguration
import RouteprobeCore

/// The verdict table of DESIGN.md, case by case, without any network.
@Suite struct DiagnosisTests {
    let owner = ClusterMap.Node(name: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!])
    let pod = IPAddress("172.16.1.12")!
    let viaVPC = RouteView(routeClass: .vpc, device: "eth0", gateway: IPAddress("192.168.0.253"), text: "via vpc")

    func result(_ outcome: ProbeOutcome, target: IPAddress? = nil, icmp: ICMPErrorReport? = nil) -> ProbeResult {
        ProbeResult(spec: ProbeSpec(target: target ?? pod, probeProtocol: .icmp), outcome: outcome, icmpError: icmp)
    }

    func verdict(route: RouteView? = nil, outcome: ProbeOutcome, evidence: CaptureEvidence? = nil, control: ProbeOutcome? = .reply,
                 icmp: ICMPErrorReport? = nil, owner: ClusterMap.Node?? = nil) -> Verdict {
        Diagnosis.diagnose(route: route ?? viaVPC, result: result(outcome, icmp: icmp), evidence: evidence,
                           owner: owner ?? self.owner, control: control.map { result($0, target: self.owner.ip) }).verdict
    }

    @Test func repliesAndRefusalsAreReachable() {
        #expect(verdict(outcome: .reply) == .reachable)
        #expect(verdict(outcome: .refused, control: .timeout) == .reachable)
    }

    @Test func silenceTowardsTheVPCWithAnAnsweringOwnerIsAMissingVPCRoute() {
        var seen = CaptureEvidence()
        seen.requestsSeen = 3
        let diagnosis = Diagnosis.diagnose(route: viaVPC, result: result(.timeout), evidence: seen, owner: owner,
                                           control: result(.reply, target: owner.ip))
        #expect(diagnosis.verdict == .vpcRouteMissing)
        #expect(diagnosis.message.contains("172.16.1.0/24 -> node-b (192.168.0.50)"))
        #expect(diagnosis.message.contains("3 echo requests left"))
    }

    @Test func requestsThatNeverLeftAreNotBlamedOnTheVPC() {
        #expect(verdict(outcome: .timeout, evidence: CaptureEvidence()) == .unknown)
    }

    @Test func aSilentOwnerMeansTheNodeIsDown() {
        #expect(verdict(outcome: .timeout, control: .timeout) == .nodeUnreachable)
    }

    @Test func withoutAnOwnerSilenceIsUnknown() {
        #expect(verdict(outcome: .timeout, control: nil, owner: .some(nil)) == .unknown)
    }

    @Test func aRoutersErrorIsARejection() {
        let icmp = ICMPErrorReport(from: IPAddress("192.168.0.253")!, type: 3, code: 1)
        #expect(verdict(outcome: .icmpError, icmp: icmp) == .rejectedByRouter)
    }

    @Test func anUnusableKernelRouteIsMissing() {
        #expect(verdict(route: .failedLookup(errno: 101, text: "no route"), outcome: .localError) == .kernelRouteMissing)
        #expect(verdict(route: RouteView(routeClass: .unreachable, type: .blackhole, text: "blackhole"), outcome: .timeout) == .kernelRouteMissing)
    }

    @Test func aDirectRouteViaAnotherNodeIsWrongEvenWhenADetourWorks() {
        let wrong = RouteView(routeClass: .direct, device: "eth0", gateway: IPAddress("192.168.0.60"), text: "via node-c")
        #expect(verdict(route: wrong, outcome: .timeout) == .kernelRouteWrong)
        #expect(verdict(route: wrong, outcome: .reply) == .kernelRouteWrong)
        let right = RouteView(routeClass: .direct, device: "eth0", gateway: owner.ip, text: "via node-b")
        #expect(verdict(route: right, outcome: .reply) == .reachable)
    }

    @Test func routesAreClassifiedFromTheLookupAndTheMap() {
        let map = ClusterMap(nodes: [owner, ClusterMap.Node(name: "node-a", ip: IPAddress("192.168.0.193")!, podCIDRs: [IPPrefix("172.16.0.0/24")!])])
        let local = map.nodes[1]
        func classify(_ route: Route, _ target: String, egress: Link? = nil) -> RouteClass {
            RouteView.classify(route, egress: egress, target: IPAddress(target)!, map: map, localNode: local, text: "").routeClass
        }
        #expect(classify(Route(family: .inet, gateway: IPAddress("192.168.0.253"), outputInterface: 2), "172.16.1.12") == .vpc)
        #expect(classify(Route(family: .inet, gateway: IPAddress("192.168.0.50"), outputInterface: 2), "172.16.1.12") == .direct)
        #expect(classify(Route(family: .inet, type: .blackhole), "172.16.1.12") == .unreachable)
        #expect(classify(Route(family: .inet, outputInterface: 3), "172.16.0.12") == .local)
        #expect(classify(Route(family: .inet, type: .local, outputInterface: 1), "192.168.0.193") == .local)
        #expect(classify(Route(family: .inet, outputInterface: 5), "172.16.1.12", egress: Link(index: 5, name: "flannel.1", kind: "vxlan")) == .overlay)
    }
}

/// Cluster map files: YAML and JSON, and one clear line for each kind of mistake.
@Suite struct ClusterMapFileTests {
    @Test func readsTheDocumentedYAML() throws {
        let map = try ClusterMapFile.parse("""
            probePort: 9700            # optional
            nodes:
              - name: node-b
                ip: 192.168.0.50
                podCIDRs: [172.16.1.0/24]
                podTargets: [172.16.1.12]
              - name: node-c
                ip: 192.168.0.60
                podCIDRs: [172.16.2.0/24]
            """, source: "test")
        #expect(map.probePort == 9700)
        #expect(map.owner(of: IPAddress("172.16.2.7")!)?.name == "node-c")
        #expect(map.nodes[1].probeTargets == [IPAddress("172.16.2.1")!])
    }

    @Test("a dual-stack node gives ips: both addresses are its own, and the map written out reads back the same")
    func dualStackNodes() throws {
        let map = try ClusterMapFile.parse("""
            nodes:
              - name: node-b
                ips: [192.168.0.50, "fd00:192:168::50"]
                podCIDRs: [172.16.1.0/24, "fd00:172:16:1::/64"]
                uid: 0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d
            """, source: "test")
        let node = try #require(map.nodes.only)
        #expect(node.ip == IPAddress("192.168.0.50") && node.otherIP == IPAddress("fd00:192:168::50"))
        #expect(node.address(of: .inet6) == IPAddress("fd00:192:168::50") && node.uid == "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d")
        #expect(map.node(withIP: IPAddress("fd00:192:168::50")!)?.name == "node-b")
        #expect(map.owner(of: IPAddress("fd00:172:16:1::12")!)?.name == "node-b")
        let again = try JSONDecoder().decode(ClusterMap.self, from: try JSONEncoder().encode(map))
        #expect(again == map)
        let registration = NodeRegistration(node: "node-b", ip: node.ip, otherIP: IPAddress("192.168.0.51"), podCIDRs: node.podCIDRs)
        #expect(registration.problem == "otherIP 192.168.0.51 is of the same family as ip 192.168.0.50")
        #expect(NodeRegistration(node: "node-b", ip: node.ip, otherIP: node.otherIP, podCIDRs: node.podCIDRs).clusterNode.addresses == node.addresses)
    }

    @Test func readsJSONWithTheSameKeys() throws {
        let map = try ClusterMapFile.parse(#"{"nodes": [{"name": "node-b", "ip": "192.168.0.50", "podCIDRs": ["172.16.1.0/24"]}]}"#, source: "test")
        #expect(map.probePort == ClusterMap.defaultProbePort)
        #expect(map.nodes.first?.ip == IPAddress("192.168.0.50"))
    }

    @Test(arguments: [
        ("nodes: []", "no nodes"),
        ("probePort: 9700", "missing key 'nodes'"),
        ("nodes:\n  - name: a\n    ip: 10.0.0.300\n", "not an IP address"),
        ("nodes:\n  - name: a\n    ip: 10.0.0.1\n    podCIDRs: [172.16.1.0]\n", "not a CIDR"),
        ("nodes:\n  - name: a\n    ip: 10.0.0.1\n    podCIDRs: [172.16.0.0/16]\n  - name: b\n    ip: 10.0.0.2\n    podCIDRs: [172.16.1.0/24]\n", "overlaps"),
        ("nodes:\n  - name: a\n    ip: 10.0.0.1\n  - name: a\n    ip: 10.0.0.2\n", "appears twice"),
        ("nodes:\n  - name: a\n    ip: 10.0.0.1\n    podCIDRs: [172.16.1.0/24]\n    podTargets: [172.16.9.1]\n", "outside its pod CIDRs"),
        ("probePort: 99999\nnodes: []", "probePort"),
        ("{{{", "cluster map test"),
        ("nodes:\n  - name: a\n    ips: [10.0.0.1, 10.0.0.2]\n", "at most one of each family"),
        ("nodes:\n  - name: a\n    ips: []\n", "one or two addresses"),
        ("nodes:\n  - name: a\n    ip: 10.0.0.1\n    ips: [10.0.0.1, \"fd00::1\"]\n", "give ip or ips, not both"),
        ("nodes:\n  - name: a\n    ip: 10.0.0.1\n    podCIDRs: [172.16.1.7/24]\n", "'172.16.1.7/24' has host bits set: the CIDR is 172.16.1.0/24"),
        ("nodes:\n  - name: a\n    ips: [10.0.0.1, \"fd00::1\"]\n  - name: b\n    ips: [10.0.0.2, \"fd00::1\"]\n", "node IP fd00::1 appears twice"),
    ])
    func mistakesAreOneClearLine(text: String, expected: String) {
        let error = #expect(throws: ConfigurationError.self) { _ = try ClusterMapFile.parse(text, source: "test") }
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "no error")")
        #expect(error?.description.contains("\n") == false)
    }

    @Test func durationsAreWrittenAsTheCLIWritesThem() {
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("2s") == .seconds(2))
        #expect(DurationText.parse("1m") == .seconds(60))
        #expect(DurationText.parse("1.5s") == .milliseconds(1500))
        for bad in ["", "5", "s", "-1s", "1 s", "1x", "soon"] { #expect(DurationText.parse(bad) == nil, "\(bad)") }
        #expect(DurationText.format(.milliseconds(1500)) == "1500ms")
        for duration in [Duration.milliseconds(1), .milliseconds(250), .seconds(5), .seconds(90), .seconds(600)] {
            #expect(DurationText.parse(DurationText.format(duration)) == duration)
        }
        #expect(DurationText.format(.seconds(120)) == "2m")
    }
}

/// The host-gw table check: every other node's CIDR via that node, or a finding.
@Suite struct KernelRouteCheckTests {
    let map = ClusterMap(nodes: [
        .init(name: "node-a", ip: IPAddress("192.168.0.193")!, podCIDRs: [IPPrefix("172.16.0.0/24")!]),
        .init(name: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!]),
        .init(name: "node-c", ip: IPAddress("192.168.0.60")!, podCIDRs: [IPPrefix("172.16.2.0/24")!]),
    ])

    func route(_ cidr: String, via gateway: String? = nil, type: RouteType = .unicast) -> Route {
        let prefix = IPPrefix(cidr)!
        return Route(family: .inet, type: type, destinationAddress: prefix.address, destinationLength: UInt8(prefix.length),
                     gateway: gateway.flatMap { IPAddress($0) }, outputInterface: 2)
    }

    @Test func aCompleteHostGatewayTableHasNoFinding() {
        let routes = [route("0.0.0.0/0", via: "192.168.0.253"), route("172.16.1.0/24", via: "192.168.0.50"), route("172.16.2.0/24", via: "192.168.0.60")]
        #expect(KernelRouteCheck.findings(routes: routes, map: map, localNode: "node-a").isEmpty)
    }

    @Test func aVPCRoutedNodeIsNotChecked() {
        #expect(KernelRouteCheck.findings(routes: [route("0.0.0.0/0", via: "192.168.0.253")], map: map, localNode: "node-a").isEmpty)
    }

    @Test func missingBlackholedAndMisdirectedRoutesAreFound() {
        let missing = KernelRouteCheck.findings(routes: [route("172.16.1.0/24", via: "192.168.0.50")], map: map, localNode: "node-a")
        #expect(missing.map(\.kind) == [.kernelRouteMissing])
        #expect(missing.first?.cidr == IPPrefix("172.16.2.0/24"))
        let blackholed = KernelRouteCheck.findings(routes: [route("172.16.1.0/24", via: "192.168.0.50"), route("172.16.2.0/24", type: .blackhole)],
                                                   map: map, localNode: "node-a")
        #expect(blackholed.map(\.kind) == [.kernelRouteMissing])
        let wrong = KernelRouteCheck.findings(routes: [route("172.16.1.0/24", via: "192.168.0.50"), route("172.16.2.0/24", via: "192.168.0.50")],
                                              map: map, localNode: "node-a")
        #expect(wrong.map(\.kind) == [.kernelRouteWrong])
        #expect(wrong.first?.message.contains("via node-b (192.168.0.50)") == true)
    }
}

/// The example files in deploy/ are accepted as they stand.
@Suite struct DeployExampleTests {
    let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy")

    @Test func theExampleClusterMapIsTheIncidentsCluster() throws {
        let map = try ClusterMapFile.load(path: deploy.appendingPathComponent("cluster-map.example.yaml").path)
        #expect(map.nodes.map(\.name) == ["node-a", "node-b", "node-c"])
        #expect(map.owner(of: IPAddress("172.16.1.12")!)?.ip == IPAddress("192.168.0.50"))
    }

    @Test func theExampleAgentConfigHasEveryKey() throws {
        let file = try AgentSettings.load(path: deploy.appendingPathComponent("agent.example.yaml").path)
        #expect(file.nodeName == "node-a")
        #expect(file.interval.flatMap(DurationText.parse) == .seconds(5))
        #expect(file.syslog.flatMap(SyslogDestination.init) == .local)
        #expect(file.metricsListen == "0.0.0.0:9701" && file.failuresToOpen == 2 && file.captureDir != nil)
    }

    @Test func anUnknownConfigKeyIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString).yaml").path
        try "nodeName: a\nintervall: 5s\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: ConfigurationError.self) { _ = try AgentSettings.load(path: path) }
        #expect(error?.description.contains("unknown key 'intervall'") == true)
    }
}
