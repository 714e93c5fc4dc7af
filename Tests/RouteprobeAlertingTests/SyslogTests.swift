import Foundation
import Testing
import RouteprobeAlerting
import RouteprobeCore
import RouteprobeTestSupport
import Synchronization
@testable import RouteprobeSystem

/// RFC 5424 alerts delivered to a real rsyslogd over every transport.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct SyslogDeliveryTests {
    let finding = Finding.from(
        verdict: .vpcRouteMissing, source: "node-a", target: IPAddress("172.16.1.12")!,
        owner: ClusterMap.Node(name: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!]),
        evidence: .init(sent: 3, received: 0),
        message: "The VPC route entry 172.16.1.0/24 -> node-b (192.168.0.50) is probably missing.\ninjected line")!

    func alert(resolved: Bool = false) -> SyslogMessage {
        SyslogMessage.alert(for: finding, resolved: resolved, hostname: "node-a", processID: "4242",
                            seconds: 1_700_000_000, microseconds: 123)
    }

    @Test(arguments: ["unix", "udp", "tcp"])
    func rsyslogReceivesTheAlertFieldByField(transport: String) throws {
        let collector = try Rsyslog()
        defer { collector.stop() }
        let destination: SyslogDestination
        switch transport {
        case "unix": destination = .unix(path: collector.socketPath)
        case "udp": destination = .udp(IPAddress("127.0.0.1")!, port: collector.udpPort)
        default: destination = .tcp(IPAddress("127.0.0.1")!, port: collector.tcpPort)
        }
        let sender = SyslogSender(destination: destination, namespace: NetworkNamespace(collector.namespace))
        #expect(sender.send(alert()))
        #expect(sender.send(alert(resolved: true)))
        let lines = collector.lines(atLeast: 2)
        try #require(lines.count == 2, "rsyslogd received \(lines)")
        let fields = lines[0].split(separator: "|", maxSplits: 8, omittingEmptySubsequences: false).map(String.init)
        #expect(fields[0] == "1")                       // RFC 5424
        #expect(fields[1] == "3" && fields[2] == "3")   // daemon, error
        #expect(fields[3] == "node-a" && fields[4] == "routeprobe" && fields[5] == "4242")
        #expect(fields[6] == "vpcRouteMissing")
        #expect(fields[7].hasPrefix("[routeprobe@32473 id=\"\(finding.id)\" state=\"open\" scope=\"node\" cidr=\"172.16.1.0/24\" nextHopNode=\"node-b\" nextHopIP=\"192.168.0.50\" sources=\"node-a\""))
        #expect(fields[7].contains("sent=\"3\" received=\"0\""))
        #expect(fields[8].contains("VPC route entry missing: 172.16.1.0/24 -> node-b (192.168.0.50), seen from node-a."))
        #expect(fields[8].contains("Fix: Add the VPC route entry 172.16.1.0/24 with next hop node-b (192.168.0.50)"))
        #expect(fields[8].contains("missing. injected line"), "the newline was neutralised")
        let resolved = lines[1].split(separator: "|", maxSplits: 8, omittingEmptySubsequences: false).map(String.init)
        #expect(resolved[2] == "5" && resolved[7].contains("state=\"resolved\""))
        #expect(resolved[8].hasPrefix("resolved: VPC route entry missing: 172.16.1.0/24 -> node-b"))
    }

    @Test func aMissingCollectorIsReportedOnceAndDeliveryResumes() throws {
        let collector = try Rsyslog()
        defer { collector.stop() }
        let path = collector.socketPath + ".later"
        let sender = SyslogSender(destination: .unix(path: path))
        var changes: [String?] = []
        sender.onDeliveryChange = { changes.append($0) }
        #expect(!sender.send(alert()))
        #expect(!sender.send(alert()))
        #expect(changes.count == 1 && changes[0]?.contains("fails") == true)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: collector.socketPath)
        #expect(sender.send(alert()))
        #expect(changes.count == 2 && changes[1] == nil)
        #expect(collector.lines(atLeast: 1).count == 1)
    }
}

/// The rate limit and the message format, without a daemon.
@Suite struct SyslogFormatTests {
    @Test func theHeaderIsRFC5424() {
        let message = SyslogMessage(severity: .error, seconds: 1_700_000_000, microseconds: 42, hostname: "node a\n",
                                    processID: "7", messageID: "vpcRouteMissing", structuredDataID: "x@32473",
                                    parameters: [("note", "a \"quoted\" ] \\ value\nnext")], message: "line one\nline two")
        #expect(message.formatted() == #"<27>1 2023-11-14T22:13:20.000042Z node_a_ routeprobe 7 vpcRouteMissing [x@32473 note="a \"quoted\" \] \\ value next"] line one line two"#)
    }

    @Test func theRateLimitHoldsABurstAndRefills() {
        var limiter = RateLimiter(burst: 3, perSecond: 1)
        let allowed = (0..<5).map { _ in limiter.allow(at: 1_000_000_000) }
        #expect(allowed == [true, true, true, false, false])
        let refilled = limiter.allow(at: 2_100_000_000)
        #expect(refilled)
        let suppressed = limiter.takeSuppressed()
        #expect(suppressed == 2)
    }

    @Test func destinationsParseAsTheFlagsWriteThem() {
        #expect(SyslogDestination("local") == .local)
        #expect(SyslogDestination("unix:/run/x.sock") == .unix(path: "/run/x.sock"))
        #expect(SyslogDestination("udp:10.0.0.1:514") == .udp(IPAddress("10.0.0.1")!, port: 514))
        #expect(SyslogDestination("tcp:[2001:db8::1]:6514")?.description == "tcp:[2001:db8::1]:6514")
        for bad in ["", "udp:10.0.0.1", "tcp:host:514", "unix:relative", "udp:10.0.0.1:0", "smtp:x:25"] {
            #expect(SyslogDestination(bad) == nil, "\(bad)")
        }
    }

    @Test func aKindHasOneSeverityWhicheverRoleRaisesIt() {
        let owner = ClusterMap.Node(name: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!])
        let fromAgent = Finding.from(verdict: .nodeUnreachable, source: "node-a", target: IPAddress("172.16.1.12")!, owner: owner,
                                     evidence: .init(), message: "m")!
        let fromAggregator = Finding(kind: .nodeUnreachable, scope: .cluster, subject: "node-b", cidr: nil,
                                     expectedNextHop: .init(owner), sources: ["node-a", "node-c"], evidence: .init(), message: "m", remediation: "r")
        for finding in [fromAgent, fromAggregator] {
            let opened = SyslogMessage.alert(for: finding, resolved: false, hostname: "h", processID: "1", seconds: 0, microseconds: 0)
            let resolved = SyslogMessage.alert(for: finding, resolved: true, hostname: "h", processID: "1", seconds: 0, microseconds: 0)
            #expect(opened.severity == .warning && resolved.severity == .notice, "\(finding.scope)")
            #expect(opened.messageID == "nodeUnreachable")
        }
        #expect(fromAgent.id != fromAggregator.id, "one node's view and the cluster's are different findings")
    }
}

/// The one alert path, end to end without a daemon: events in, RFC 5424 datagrams and log lines out.
@Suite struct AlertServiceTests {
    @Test func openedAndResolvedFindingsAreSentAndLoggedInOrder() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-alerts-\(getpid()).sock").path
        unlink(path)
        defer { unlink(path) }
        let collector = try OwnedDescriptor.socket(.unix, .datagram)
        try collector.bind(to: .unix(path: path))
        let lines = LockedLines()
        let service = AlertService(destination: .unix(path: path), hostname: "node-a", goesOn: "probing goes on",
                                   log: { lines.append($0) })
        let running = Task { try await service.run() }
        let finding = Finding(kind: .vpcRouteMissing, scope: .cluster, subject: "172.16.1.0/24", cidr: IPPrefix("172.16.1.0/24"),
                              expectedNextHop: .init(node: "node-b", ip: IPAddress("192.168.0.50")), sources: ["node-a", "node-c"],
                              evidence: .init(agreeing: 2, probing: 2), message: "2/2 sources agree.", remediation: "Add it.")
        service.send([.opened(finding), .resolved(finding)])
        var received: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // Polled without blocking: a blocked thread of the cooperative pool could be the one the service needs.
        for _ in 0..<200 where received.count < 2 {
            while let datagram = try collector.receive(into: &buffer) {
                received.append(String(decoding: buffer[0..<datagram.length], as: UTF8.self))
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        running.cancel()
        _ = try? await running.value
        try #require(received.count == 2, "\(received)")
        #expect(received[0].hasPrefix("<27>1 ") && received[0].contains(" node-a routeprobe ") && received[0].contains(" vpcRouteMissing "))
        #expect(received[0].contains("VPC route entry missing: 172.16.1.0/24 -> node-b (192.168.0.50). 2/2 sources agree. Fix: Add it."))
        #expect(received[1].hasPrefix("<29>1 ") && received[1].contains("state=\"resolved\""))
        let logged = lines.all
        #expect(logged.count == 2)
        #expect(logged.first?.hasPrefix("opened \(finding.id): VPC route entry missing") == true)
        #expect(logged.last?.hasPrefix("resolved \(finding.id): resolved: VPC route entry missing") == true)
        #expect(service.deliveredCount == 2)
    }
}

/// Log lines collected from another task.
final class LockedLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
