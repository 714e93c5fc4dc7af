import Foundation
import Testing
import RouteprobeAlerting
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeTestSupport

/// RFC 5424 alerts delivered to a real rsyslogd over every transport.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct SyslogDeliveryTests {
    let finding = Finding(kind: .vpcRouteMissing, sourceNode: "node-a", cidr: IPPrefix("172.16.1.0/24"),
                          expectedNode: "node-b", expectedIP: IPAddress("192.168.0.50"), sent: 3, received: 0,
                          message: "The VPC route entry 172.16.1.0/24 -> node-b (192.168.0.50) is probably missing.\ninjected line")

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
        #expect(fields[7].hasPrefix("[routeprobe@32473 id=\"\(finding.id)\" state=\"open\" source=\"node-a\" cidr=\"172.16.1.0/24\" nextHopNode=\"node-b\" nextHopIP=\"192.168.0.50\""))
        #expect(fields[8].contains("VPC route entry missing: 172.16.1.0/24 -> node-b (192.168.0.50)"))
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

    @Test func findingsOpenAfterConsecutiveRoundsAndCloseOnce() {
        var tracker = FindingTracker(failuresToOpen: 2)
        let finding = Finding(kind: .vpcRouteMissing, sourceNode: "node-a", cidr: IPPrefix("172.16.1.0/24"),
                              expectedNode: "node-b", expectedIP: IPAddress("192.168.0.50"), message: "m")
        #expect(tracker.round([finding]).isEmpty)
        #expect(tracker.round([finding, finding]) == [.opened(finding)])
        #expect(tracker.round([finding]).isEmpty)
        #expect(tracker.round([]) == [.resolved(finding)])
        #expect(tracker.round([]).isEmpty)
        #expect(tracker.round([finding]).isEmpty, "a new streak starts from zero")
        let again = Finding(kind: .vpcRouteMissing, sourceNode: "node-a", cidr: IPPrefix("172.16.1.0/24"),
                            expectedNode: "node-b", expectedIP: IPAddress("192.168.0.50"), message: "other words")
        #expect(again.id == finding.id, "the id is stable")
    }
}
