import Foundation
import Testing
import RouteprobeTestSupport

/// The aggregator and three agents in the lab: each fault of the lab becomes the right cluster finding.
/// The aggregator runs in the VPC router's namespace on 192.168.0.253:9800, as a Deployment would run
/// somewhere every node reaches.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)), .serialized)
struct AggregatorLabTests {
    static let token = "lab-token-0123456789"
    static let url = "https://192.168.0.253:9800"
    /// The lab aggregator's certificate (192.168.0.253), made once for the suite.
    static let certificates = try! LabCertificates(["192.168.0.253"])

    /// A token file for the run, removed with the test.
    final class TokenFile {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-token-\(UInt32.random(in: 0...UInt32.max))").path
        init(_ token: String) throws { try token.write(toFile: path, atomically: true, encoding: .utf8) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    func aggregator(_ lab: Lab, token: TokenFile, syslog: String, extra: [String] = []) throws -> LabProcess {
        try LabProcess(namespace: lab.namespace("vpc"), name: "aggregator",
                       arguments: ["aggregator", "--listen", "192.168.0.253:9800", "--token-file", token.path, "--allow-shared-token",
                                   "--tls-cert", Self.certificates.certificate, "--tls-key", Self.certificates.key, "--syslog", syslog, "--evaluation-interval", "500ms", "--window", "10s"] + extra)
    }

    func agent(_ lab: Lab, _ node: String, token: TokenFile, syslog: String, trusting authority: String = certificates.authority) throws -> LabProcess {
        try LabProcess(namespace: lab.namespace(node), name: "agent",
                       arguments: ["agent", "--node-name", node, "--cluster-map", lab.mapPath, "--interval", "1s", "--timeout", "400ms",
                                   "--syslog", syslog, "--aggregator", Self.url, "--aggregator-ca", authority,
                                   "--token-file", token.path])
    }

    /// The open findings, as JSON objects.
    func findings(_ lab: Lab) throws -> [[String: Any]] {
        let (status, body) = try httpRequest(in: lab.namespace("vpc"), "\(Self.url)/api/v1/findings", token: Self.token,
                                             trusting: Self.certificates.authority)
        guard status == 200, let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let list = object["findings"] as? [[String: Any]] else { throw LabError("findings: HTTP \(status) \(body)") }
        return list
    }

    /// Polls the findings until `matches` holds (or the timeout passes) and returns the last ones seen.
    func awaitFindings(_ lab: Lab, timeout: TimeInterval = 8, _ matches: ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let current = (try? findings(lab)) ?? []
            if matches(current) || Date() > deadline { return current }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    func kinds(_ list: [[String: Any]]) -> [String] { list.compactMap { $0["kind"] as? String }.sorted() }

    /// The aggregator and an agent on each of the lab's three nodes, alerting nowhere (the tests read the API).
    struct Fleet {
        let token: TokenFile
        let server: LabProcess
        let agents: [LabProcess]

        init(_ tests: AggregatorLabTests, _ lab: Lab) async throws {
            token = try TokenFile(AggregatorLabTests.token)
            server = try tests.aggregator(lab, token: token, syslog: "unix:/nonexistent/syslog.sock")
            try await Task.sleep(for: .milliseconds(500))
            let token = self.token
            agents = try ["node-a", "node-b", "node-c"].map { try tests.agent(lab, $0, token: token, syslog: "unix:/nonexistent/syslog.sock") }
        }

        func stop() {
            agents.forEach { $0.stop() }
            server.stop()
        }
    }

    @Test func eachLabFaultBecomesTheRightClusterFinding() async throws {
        try await withLab { lab in
            let token = try TokenFile(Self.token)
            let collector = try Rsyslog()
            defer { collector.stop() }
            let server = try aggregator(lab, token: token, syslog: "unix:\(collector.socketPath)")
            defer { server.stop() }
            try await Task.sleep(for: .milliseconds(500))
            let agents = try ["node-a", "node-b", "node-c"].map { try agent(lab, $0, token: token, syslog: "unix:\(collector.socketPath)") }
            defer { agents.forEach { $0.stop() } }

            // Healthy: every source reports, the matrix fills, no finding opens.
            let (_, matrixBody) = try httpRequest(in: lab.namespace("vpc"), "\(Self.url)/api/v1/matrix", token: Self.token,
                                                      trusting: Self.certificates.authority)
            try await Task.sleep(for: .milliseconds(3000))
            #expect(try findings(lab).isEmpty, "healthy lab: \(server.log)")
            let (status, matrixText) = try httpRequest(in: lab.namespace("vpc"), "\(Self.url)/api/v1/matrix", token: Self.token,
                                                      trusting: Self.certificates.authority)
            #expect(status == 200, "\(matrixBody)")
            let matrix = try JSONSerialization.jsonObject(with: Data(matrixText.utf8)) as? [String: Any]
            #expect((matrix?["sources"] as? [String]) == ["node-a", "node-b", "node-c"], "\(matrixText)")
            let cells = matrix?["cells"] as? [[String: Any]] ?? []
            #expect(cells.count == 6 && cells.allSatisfy { $0["outcome"] as? String == "reply" }, "\(matrixText)")

            // 1. The incident: every source agrees, n/n, and rsyslogd gets the cluster alert.
            try lab.run("break-vpc-route", "node-b")
            var found = try await awaitFindings(lab) { $0.contains { $0["kind"] as? String == "vpcRouteMissing" && ($0["sources"] as? [String])?.count == 2 } }
            var finding = found.first { $0["kind"] as? String == "vpcRouteMissing" }
            #expect(finding?["cidr"] as? String == "172.16.1.0/24", "\(found) \(server.log)")
            #expect((finding?["expectedNextHop"] as? [String: Any])?["node"] as? String == "node-b")
            #expect((finding?["expectedNextHop"] as? [String: Any])?["ip"] as? String == "192.168.0.50")
            #expect(finding?["sources"] as? [String] == ["node-a", "node-c"])
            let evidence = finding?["evidence"] as? [String: Any]
            #expect(evidence?["agreeing"] as? Int == 2 && evidence?["probing"] as? Int == 2)
            #expect((finding?["message"] as? String)?.contains("172.16.1.0/24 -> node-b (192.168.0.50) is missing, 2/2 sources agree") == true)
            #expect(finding?["since"] is Int)
            let alert = collector.lines(atLeast: 3, timeout: 5).first { $0.contains("sources=\"node-a,node-c\"") }
            #expect(alert?.contains("VPC route entry missing: 172.16.1.0/24 -> node-b (192.168.0.50)") == true,
                    "\(collector.lines(atLeast: 0, timeout: 0))")
            try lab.run("restore-vpc-route", "node-b")
            found = try await awaitFindings(lab) { $0.isEmpty }
            #expect(found.isEmpty, "resolved after the restore: \(found)")
            #expect(collector.lines(atLeast: 6, timeout: 5).contains { $0.contains("state=\"resolved\"") && $0.contains("sources=\"node-a,node-c\"") })

            // 2. node-b's entry points at node-c: node-c sees the packets arrive.
            try lab.run("misroute", "node-b", "node-c")
            found = try await awaitFindings(lab) { $0.contains { $0["kind"] as? String == "vpcRouteWrongNextHop" } }
            finding = found.first { $0["kind"] as? String == "vpcRouteWrongNextHop" }
            #expect((finding?["actualNextHop"] as? [String: Any])?["node"] as? String == "node-c", "\(found)")
            #expect((finding?["expectedNextHop"] as? [String: Any])?["node"] as? String == "node-b")
            #expect(kinds(found) == ["vpcRouteWrongNextHop"], "only the wrong next hop, not also a missing route: \(found)")
            try lab.run("restore-vpc-route", "node-b")
            #expect(try await awaitFindings(lab) { $0.isEmpty }.isEmpty)

            // 3. The router rejects node-c's CIDR with ICMP unreachable.
            try lab.run("reject", "node-c")
            found = try await awaitFindings(lab) { $0.contains { $0["kind"] as? String == "rejectedByRouter" } }
            finding = found.first { $0["kind"] as? String == "rejectedByRouter" }
            #expect(finding?["cidr"] as? String == "172.16.2.0/24", "\(found)")
            #expect((finding?["evidence"] as? [String: Any])?["router"] as? String == "192.168.0.253")
            try lab.run("restore-vpc-route", "node-c")
            #expect(try await awaitFindings(lab) { $0.isEmpty }.isEmpty)

            // 4. node-c is down: about the node, not a route.
            try lab.run("node-down", "node-c")
            found = try await awaitFindings(lab) { $0.contains { $0["kind"] as? String == "nodeUnreachable" } }
            finding = found.first { $0["kind"] as? String == "nodeUnreachable" }
            #expect((finding?["expectedNextHop"] as? [String: Any])?["node"] as? String == "node-c", "\(found)")
            #expect(!kinds(found).contains("vpcRouteMissing"), "\(found)")
            try lab.run("node-up", "node-c")
            #expect(try await awaitFindings(lab, timeout: 25) { $0.isEmpty }.isEmpty, "node-c's agent reports again after the partition")

            // 5. Only node-a fails (the VPC drops its host traffic to pods): a source-side problem on node-a.
            try lab.run("block-source", "node-a")
            found = try await awaitFindings(lab) { $0.contains { $0["kind"] as? String == "sourceLocal" } }
            finding = found.first { $0["kind"] as? String == "sourceLocal" }
            #expect(finding?["sources"] as? [String] == ["node-a"], "\(found)")
            #expect(!kinds(found).contains("vpcRouteMissing"), "one failing source of two is not a VPC route: \(found)")
            try lab.run("unblock-source", "node-a")
            #expect(try await awaitFindings(lab) { $0.isEmpty }.isEmpty)

            // The aggregator's alerts: each cluster finding opened once and resolved once.
            let cluster = collector.lines(atLeast: 0, timeout: 0).filter { $0.contains("scope=\"cluster\"") }
            for kind in ["vpcRouteMissing", "vpcRouteWrongNextHop", "rejectedByRouter", "nodeUnreachable", "sourceLocal"] {
                #expect(cluster.filter { $0.contains("|\(kind)|") && $0.contains("state=\"open\"") }.count == 1, "\(kind): \(cluster)")
                #expect(cluster.filter { $0.contains("|\(kind)|") && $0.contains("state=\"resolved\"") }.count == 1, "\(kind): \(cluster)")
            }
            for agentProcess in agents { #expect(agentProcess.stop().map { $0 < 2 } == true, "agent stops within 2 s") }
            #expect(server.stop().map { $0 < 2 } == true, "aggregator stops within 2 s")
            #expect(server.process.terminationStatus == 0, "\(server.log)")
        }
    }

    @Test("dual stack: the IPv6 entry alone, the IPv4 entry alone, then both, give one, one, then two vpcRouteMissing findings")
    func dualStackFindingsPerFamily() async throws {
        try await withLab(dualStack: true) { lab in
            let fleet = try await Fleet(self, lab)
            defer { fleet.stop() }
            func missing(_ list: [[String: Any]]) -> [String] {
                list.filter { $0["kind"] as? String == "vpcRouteMissing" }.compactMap { $0["cidr"] as? String }.sorted()
            }
            try await Task.sleep(for: .milliseconds(3000))
            #expect(try findings(lab).isEmpty, "healthy dual-stack lab: \(fleet.server.log)")

            try lab.run("break-vpc-route", "node-b", "--family", "6")
            var found = try await awaitFindings(lab) { missing($0) == ["fd00:172:16:1::/64"] }
            #expect(missing(found) == ["fd00:172:16:1::/64"] && found.count == 1, "\(found) \(fleet.server.log)")
            let v6 = found.first { $0["cidr"] as? String == "fd00:172:16:1::/64" }
            #expect((v6?["expectedNextHop"] as? [String: Any])?["node"] as? String == "node-b")

            try lab.run("restore-vpc-route", "node-b", "--family", "6")
            try lab.run("break-vpc-route", "node-b")
            found = try await awaitFindings(lab) { missing($0) == ["172.16.1.0/24"] }
            #expect(missing(found) == ["172.16.1.0/24"] && found.count == 1, "\(found) \(fleet.server.log)")

            try lab.run("break-vpc-route", "node-b", "--family", "6")
            found = try await awaitFindings(lab) { missing($0) == ["172.16.1.0/24", "fd00:172:16:1::/64"] }
            #expect(missing(found) == ["172.16.1.0/24", "fd00:172:16:1::/64"] && found.count == 2, "\(found) \(fleet.server.log)")
        }
    }

    @Test func agentsReRegisterAfterARestartAndAWrongTokenIsRefused() async throws {
        try await withLab { lab in
            let token = try TokenFile(Self.token)
            let wrong = try TokenFile("not-the-token")
            // The map makes node-b a known target although its own agent never gets in.
            var server = try aggregator(lab, token: token, syslog: "unix:/nonexistent/syslog.sock", extra: ["--cluster-map", lab.mapPath])
            defer { server.stop() }
            try await Task.sleep(for: .milliseconds(500))
            let agents = try ["node-a", "node-c"].map { try agent(lab, $0, token: token, syslog: "unix:/nonexistent/syslog.sock") }
            defer { agents.forEach { $0.stop() } }
            let intruder = try agent(lab, "node-b", token: wrong, syslog: "unix:/nonexistent/syslog.sock")
            defer { intruder.stop() }
            try lab.run("break-vpc-route", "node-b")
            var found = try await awaitFindings(lab) { $0.contains { $0["kind"] as? String == "vpcRouteMissing" && ($0["sources"] as? [String])?.count == 2 } }
            #expect(kinds(found) == ["vpcRouteMissing"], "\(found) \(server.log)")
            let (_, health) = try httpRequest(in: lab.namespace("vpc"), "\(Self.url)/healthz", trusting: Self.certificates.authority)
            #expect(health.contains("\"registered\":2"), "the agent with the wrong token is not registered: \(health)")
            #expect(intruder.log.contains("HTTP 401: the aggregator refused the token"), "\(intruder.log)")

            // Restart: the new process knows nothing; the agents register again and the finding comes back.
            #expect(server.stop() != nil)
            server = try aggregator(lab, token: token, syslog: "unix:/nonexistent/syslog.sock", extra: ["--cluster-map", lab.mapPath])
            found = try await awaitFindings(lab, timeout: 10) { $0.contains { $0["kind"] as? String == "vpcRouteMissing" && ($0["sources"] as? [String])?.count == 2 } }
            #expect(found.first?["sources"] as? [String] == ["node-a", "node-c"], "\(found) \(server.log)")
            #expect(agents.allSatisfy { $0.log.components(separatedBy: "registered with the aggregator").count == 3 },
                    "each agent registered twice: \(agents.map(\.log))")
        }
    }

    /// Counts pixels of each colour in a PNG (8-bit RGB or RGBA, as Chromium writes them), with Python's zlib.
    static let pixelCounter = """
        import sys, zlib, struct, collections
        data = open(sys.argv[1], "rb").read()
        assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", "not a PNG"
        pos, idat, width, height, channels = 8, b"", 0, 0, 0
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8]); chunk = data[pos + 8:pos + 8 + length]; pos += 12 + length
            if kind == b"IHDR":
                width, height, depth, colour = struct.unpack(">IIBB", chunk[:10]); channels = {2: 3, 6: 4}[colour]; assert depth == 8
            elif kind == b"IDAT": idat += chunk
        raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
        for y in range(height):
            kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
            for x in range(stride):
                a = line[x - channels] if x >= channels else 0; b = previous[x]; c = previous[x - channels] if x >= channels else 0
                if kind == 1: line[x] = (line[x] + a) & 255
                elif kind == 2: line[x] = (line[x] + b) & 255
                elif kind == 3: line[x] = (line[x] + (a + b) // 2) & 255
                elif kind == 4:
                    p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            rows.append(line); previous = line
        counts = collections.Counter()
        for line in rows:
            for x in range(0, stride, channels): counts["%02x%02x%02x" % tuple(line[x:x + 3])] += 1
        print(width, height, counts["66bb6a"], counts["e53935"])
        """

    @Test func thePageShowsTheFindingAboveAColouredMatrixInHeadlessChromium() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            Issue.record("chromium is not installed (scripts/test.sh installs Debian's chromium package)")
            return
        }
        try await withLab { lab in
            let fleet = try await Fleet(self, lab)
            defer { fleet.stop() }
            try lab.run("break-vpc-route", "node-b")
            _ = try await awaitFindings(lab) { $0.contains { $0["kind"] as? String == "vpcRouteMissing" && ($0["sources"] as? [String])?.count == 2 } }

            let png = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.prefix)page.png").path
            defer { try? FileManager.default.removeItem(atPath: png) }
            let chromium = ["netns", "exec", lab.namespace("vpc"), "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--ignore-certificate-errors",
                            "--hide-scrollbars", "--window-size=1100,700"]
            let shot = try runProgram("/usr/sbin/ip", chromium + ["--screenshot=\(png)", "\(Self.url)/"])
            #expect(FileManager.default.fileExists(atPath: png), "chromium: \(shot.standardError)")
            let counted = try runProgram("/usr/bin/python3", ["-c", Self.pixelCounter, png])
            let numbers = counted.standardOutput.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
            #expect(numbers.count == 4, "\(counted.standardError)")
            if numbers.count == 4 {
                #expect(numbers[0] == 1100 && numbers[1] == 700)
                // Four reachable cells (green) and two timed-out cells (red), each tens of pixels high and wide.
                #expect(numbers[2] > 4 * 1000, "green pixels: \(numbers[2])")
                #expect(numbers[3] > 2 * 1000, "red pixels: \(numbers[3])")
            }
            // The DOM Chromium rendered, without JavaScript: the finding comes before the matrix.
            let dom = try runProgram("/usr/sbin/ip", chromium + ["--dump-dom", "\(Self.url)/"]).standardOutput
            let finding = dom.range(of: "vpcRouteMissing 172.16.1.0/24 -&gt; node-b (192.168.0.50)")
            let matrix = dom.range(of: "Reachability matrix")
            #expect(finding != nil && matrix != nil && finding!.lowerBound < matrix!.lowerBound, "\(dom)")
            #expect(!dom.contains("<script"))
            #expect(dom.components(separatedBy: "class=\"timeout\"").count - 1 == 2)
        }
    }

    @Test func theAPIRefusesWhatItCannotUseWithAReason() async throws {
        try await withLabNamespace { namespace in
            try ip("-n", namespace, "link", "set", "lo", "up")
            let token = try TokenFile(Self.token)
            // An Azure table of 3 routes against a limit of 40: its fill is exported as two gauges.
            let table = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-azure-\(getpid()).json").path
            try #"[{"name": "a", "addressPrefix": "10.244.0.0/24", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.224.0.4", "provisioningState": "Succeeded"}, {"name": "b", "addressPrefix": "10.244.1.0/24", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.224.0.5", "provisioningState": "Succeeded"}, {"name": "internet", "addressPrefix": "0.0.0.0/0", "nextHopType": "Internet", "provisioningState": "Succeeded"}]"#
                .write(toFile: table, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: table) }
            let server = try LabProcess(namespace: namespace, name: "aggregator",
                                        arguments: ["aggregator", "--listen", "127.0.0.1:9800", "--token-file", token.path, "--allow-shared-token", "--plain-http",
                                                    "--syslog", "unix:/nonexistent/syslog.sock", "--max-body-bytes", "4096",
                                                    "--vpc-route-table", table, "--route-table-limit", "40"])
            defer { server.stop() }
            let url = "http://127.0.0.1:9800"
            var up = false
            for _ in 0..<50 where !up { up = (try? httpRequest(in: namespace, "\(url)/healthz"))?.status == 200; if !up { try await Task.sleep(for: .milliseconds(100)) } }
            #expect(up, "\(server.log)")

            var answer = try httpRequest(in: namespace, "\(url)/api/v1/findings")
            #expect(answer.status == 401 && answer.body.contains("missing bearer token"))
            answer = try httpRequest(in: namespace, "\(url)/api/v1/findings", token: "nope")
            #expect(answer.status == 401 && answer.body.contains("wrong bearer token"))
            answer = try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/reports", token: Self.token, body: String(repeating: " ", count: 5000))
            #expect(answer.status == 413, "\(answer)")
            answer = try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/reports", token: Self.token, body: "{not json")
            #expect(answer.status == 400 && answer.body.contains("\"error\""), "\(answer)")
            answer = try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/reports", token: Self.token, body: #"{"schema":2,"node":"x"}"#)
            #expect(answer.status == 400 && answer.body.contains("missing key 'round'"), "\(answer)")
            // A report of the previous schema (an agent of an older release) is named as such, not as a broken body.
            answer = try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/reports", token: Self.token,
                                     body: #"{"schema":1,"node":"node-a","round":1,"results":[],"localFindings":[{"kind":"kernelRouteMissing","sourceNode":"node-a","message":"m"}],"strayTraffic":[]}"#)
            #expect(answer.status == 400 && answer.body.contains("schema 1 is not supported (this aggregator speaks schema 2)"), "\(answer)")
            answer = try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/reports", token: Self.token,
                                     body: #"{"schema":9,"node":"x","round":1,"results":[],"localFindings":[],"strayTraffic":[]}"#)
            #expect(answer.status == 400 && answer.body.contains("schema 9 is not supported"), "\(answer)")
            answer = try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/reports", token: Self.token,
                                     body: #"{"schema":2,"node":"ghost","round":1,"openAfter":2,"results":[],"localFindings":[],"strayTraffic":[]}"#)
            #expect(answer.status == 404 && answer.body.contains("not registered"), "\(answer)")
            answer = try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/register", token: Self.token,
                                     body: #"{"schema":2,"node":"node-a","ip":"192.168.0.193","podCIDRs":["172.16.0.0/24"],"podTargets":["10.0.0.1"]}"#)
            #expect(answer.status == 400 && answer.body.contains("outside the node's pod CIDRs"), "\(answer)")
            // 513 nested arrays ending the body (found by scripts/fuzz.sh): Foundation's JSONDecoder traps on it
            // instead of throwing, which took the whole aggregator down.
            answer = try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/register", token: Self.token, body: String(repeating: "[", count: 513))
            #expect(answer.status == 400 && answer.body.contains("nested deeper than 128 arrays or objects"), "\(answer)")
            // After all that it still answers.
            answer = try httpRequest(in: namespace, "\(url)/healthz")
            #expect(answer.status == 200)
            let metrics = try httpRequest(in: namespace, "\(url)/metrics").body
            #expect(metrics.contains(#"routeprobe_aggregator_rejected_requests_total{status="401"} 2"#), "\(metrics)")
            #expect(metrics.contains(#"routeprobe_aggregator_rejected_requests_total{status="400"} 6"#))
            #expect(metrics.contains("routeprobe_aggregator_vpc_route_table_entries 3.0\n"), "\(metrics)")
            #expect(metrics.contains("routeprobe_aggregator_vpc_route_table_limit 40.0\n"))
            let lint = try runProgram("/usr/bin/promtool", ["check", "metrics"], input: metrics)
            #expect(lint.status == 0, "promtool: \(lint.standardOutput) \(lint.standardError)")
        }
    }

    @Test("at --max-connections open connections a new one waits, unanswered, until one closes; the limit is said once and exported")
    func aConnectionFloodWaitsAtTheLimit() async throws {
        try await withLabNamespace { namespace in
            try ip("-n", namespace, "link", "set", "lo", "up")
            let token = try TokenFile(Self.token)
            let server = try LabProcess(namespace: namespace, name: "aggregator",
                                        arguments: ["aggregator", "--listen", "127.0.0.1:9800", "--token-file", token.path, "--allow-shared-token", "--plain-http",
                                                    "--syslog", "unix:/nonexistent/syslog.sock", "--max-connections", "3"])
            defer { server.stop() }
            let url = "http://127.0.0.1:9800"
            var up = false
            for _ in 0..<50 where !up { up = (try? httpRequest(in: namespace, "\(url)/healthz"))?.status == 200; if !up { try await Task.sleep(for: .milliseconds(100)) } }
            #expect(up, "\(server.log)")
            // Three connections held open, then a request on a fourth, then one of the three closed.
            let flood = """
                import socket, time
                held = [socket.create_connection(("127.0.0.1", 9800)) for _ in range(3)]
                time.sleep(0.5)
                late = socket.create_connection(("127.0.0.1", 9800))
                late.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: flood\\r\\n\\r\\n")
                late.settimeout(1.5)
                try:
                    print("answered at the limit:", late.recv(12))
                except socket.timeout:
                    print("waiting")
                held[0].close()
                late.settimeout(5)
                print("after one closed:", late.recv(12))
                """
            let result = try runProgram("/usr/sbin/ip", ["netns", "exec", namespace, "python3", "-c", flood])
            #expect(result.standardOutput == "waiting\nafter one closed: b'HTTP/1.1 200'\n", "\(result.standardOutput) \(result.standardError)")
            #expect(server.log.contains("3 connections open, the most --max-connections allows"), "\(server.log)")
            // The flood's connections closed, only the one asking is open (once the aggregator has seen them close).
            var metrics = ""
            for _ in 0..<20 {
                metrics = try httpRequest(in: namespace, "\(url)/metrics").body
                if metrics.contains("routeprobe_aggregator_connections_open 1.0\n") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(metrics.contains("routeprobe_aggregator_connections_limit 3.0\n"), "\(metrics)")
            #expect(metrics.contains("routeprobe_aggregator_connections_open 1.0\n"), "\(metrics)")
        }
    }

    @Test("never blind: the aggregator on node-a's host network still hears every source when node-a's own VPC entry is deleted")
    func neverBlindOnTheHostNetwork() async throws {
        try await withLab { lab in
            let token = try TokenFile(Self.token)
            let url = "http://192.168.0.193:9800"
            let server = try LabProcess(namespace: lab.namespace("node-a"), name: "aggregator",
                                        arguments: ["aggregator", "--listen", "192.168.0.193:9800", "--token-file", token.path, "--allow-shared-token", "--plain-http",
                                                    "--syslog", "unix:/nonexistent/syslog.sock", "--evaluation-interval", "500ms", "--window", "10s"])
            defer { server.stop() }
            try await Task.sleep(for: .milliseconds(500))
            let agents = try ["node-a", "node-b", "node-c"].map { node in
                try LabProcess(namespace: lab.namespace(node), name: "agent",
                               arguments: ["agent", "--node-name", node, "--cluster-map", lab.mapPath, "--interval", "1s", "--timeout", "400ms",
                                           "--syslog", "unix:/nonexistent/syslog.sock", "--aggregator", url, "--plain-http", "--token-file", token.path])
            }
            defer { agents.forEach { $0.stop() } }
            func open() throws -> [[String: Any]] {
                let (status, body) = try httpRequest(in: lab.namespace("node-a"), "\(url)/api/v1/findings", token: Self.token)
                guard status == 200, let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return [] }
                return object["findings"] as? [[String: Any]] ?? []
            }
            try await Task.sleep(for: .milliseconds(3000))
            try lab.run("break-vpc-route", "node-a")
            var found: [[String: Any]] = []
            for _ in 0..<40 {
                found = try open()
                if found.contains(where: { $0["kind"] as? String == "vpcRouteMissing" && ($0["sources"] as? [String])?.count == 2 }) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            let missing = found.first { $0["kind"] as? String == "vpcRouteMissing" }
            #expect(missing?["cidr"] as? String == "172.16.0.0/24", "\(found) \(server.log)")
            #expect(Set(missing?["sources"] as? [String] ?? []) == ["node-b", "node-c"], "every source that probes node-a's pods reports")
            let (status, body) = try httpRequest(in: lab.namespace("node-a"), "\(url)/api/v1/matrix", token: Self.token)
            #expect(status == 200 && body.contains("node-b") && body.contains("node-c"))
        }
    }

    @Test("an agent killed is agentSilent after three of its intervals (1 s here; the window is 10 s), naming its node; started again, the finding resolves")
    func aKilledAgentIsSilent() async throws {
        try await withLab { lab in
            let fleet = try await Fleet(self, lab)
            defer { fleet.stop() }
            try await Task.sleep(for: .milliseconds(3000))
            #expect(try findings(lab).isEmpty, "\(fleet.server.log)")
            _ = fleet.agents[1].stop()
            let stopped = Date()
            var found = try await awaitFindings(lab, timeout: 20) { $0.contains { $0["kind"] as? String == "agentSilent" } }
            #expect(Date().timeIntervalSince(stopped) < 7, "three intervals, not the 10 s window: \(Date().timeIntervalSince(stopped)) s")
            let silent = found.first { $0["kind"] as? String == "agentSilent" }
            #expect((silent?["expectedNextHop"] as? [String: Any])?["node"] as? String == "node-b", "\(found) \(fleet.server.log)")
            #expect((silent?["message"] as? String)?.contains("The routeprobe agent on node-b has not reported for") == true)
            let again = try agent(lab, "node-b", token: fleet.token, syslog: "unix:/nonexistent/syslog.sock")
            defer { again.stop() }
            found = try await awaitFindings(lab, timeout: 10) { !$0.contains { $0["kind"] as? String == "agentSilent" } }
            #expect(!found.contains { $0["kind"] as? String == "agentSilent" }, "\(found)")
        }
    }

    @Test("per-node tokens: a token registers and reports for its node only (403 otherwise), the reader token only reads")
    func eachTokenSpeaksForOneNode() async throws {
        try await withLabNamespace { namespace in
            try ip("-n", namespace, "link", "set", "lo", "up")
            let tokens = try TokenFile("node-a: token-of-node-a-0001\nnode-b: token-of-node-b-0002\n")
            let reader = try TokenFile("reader-token-0123456789")
            let server = try LabProcess(namespace: namespace, name: "aggregator",
                                        arguments: ["aggregator", "--listen", "127.0.0.1:9800", "--node-tokens", tokens.path,
                                                    "--token-file", reader.path, "--plain-http", "--syslog", "unix:/nonexistent/syslog.sock"])
            defer { server.stop() }
            let url = "http://127.0.0.1:9800"
            var up = false
            for _ in 0..<50 where !up { up = (try? httpRequest(in: namespace, "\(url)/healthz"))?.status == 200; if !up { try await Task.sleep(for: .milliseconds(100)) } }
            #expect(up, "\(server.log)")
            func register(_ node: String, cidr: String, token: String) throws -> (status: Int, body: String) {
                try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/register", token: token,
                                body: #"{"schema":2,"node":"\#(node)","ip":"192.168.0.\#(node == "node-a" ? 193 : 50)","podCIDRs":["\#(cidr)"]}"#)
            }
            var answer = try register("node-a", cidr: "172.16.0.0/24", token: "token-of-node-a-0001")
            #expect(answer.status == 200, "\(answer)")
            answer = try register("node-b", cidr: "172.16.1.0/24", token: "token-of-node-a-0001")
            #expect(answer.status == 403 && answer.body.contains("this token speaks for node 'node-a', not for 'node-b'"), "\(answer)")
            answer = try httpRequest(in: namespace, method: "POST", "\(url)/api/v1/reports", token: "token-of-node-a-0001",
                                     body: #"{"schema":2,"node":"node-b","round":1,"openAfter":2,"results":[],"localFindings":[],"strayTraffic":[]}"#)
            #expect(answer.status == 403 && answer.body.contains("not for 'node-b'"), "\(answer)")
            answer = try register("node-b", cidr: "172.16.1.0/24", token: "reader-token-0123456789")
            #expect(answer.status == 403 && answer.body.contains("this token reads; it speaks for no node"), "\(answer)")
            answer = try register("node-b", cidr: "172.16.1.0/24", token: "token-of-node-b-0002")
            #expect(answer.status == 200, "\(answer)")
            #expect(try httpRequest(in: namespace, "\(url)/api/v1/findings", token: "reader-token-0123456789").status == 200)
            #expect(try httpRequest(in: namespace, "\(url)/api/v1/findings", token: "token-of-node-c-0003").status == 401)
        }
    }

    @Test func badAggregatorFlagsAreOneLineAndExitTwo() throws {
        let executable = try routeprobeExecutable()
        let token = try TokenFile(Self.token)
        let empty = try TokenFile("")
        let shared = ["aggregator", "--allow-shared-token", "--plain-http", "--token-file"]
        let twoNodesOneToken = try TokenFile("node-a: 0123456789abcdef0123\nnode-b: 0123456789abcdef0123\n")
        let shortToken = try TokenFile("node-a: short\n")
        let other = try LabCertificates(["192.168.0.253"])
        for (arguments, expected) in [(["aggregator"], "missing '--node-tokens <node-tokens>'"),
                                      (["aggregator", "--token-file", token.path], "any holder could speak for any node: give --node-tokens"),
                                      (["aggregator", "--node-tokens", twoNodesOneToken.path, "--plain-http"], "node-a and node-b have the same token"),
                                      (["aggregator", "--node-tokens", shortToken.path, "--plain-http"], "the token of node-a is shorter than 16 characters"),
                                      (["aggregator", "--node-tokens", "/nonexistent", "--plain-http"], "cannot read --node-tokens"),
                                      (["aggregator", "--node-tokens", token.path, "--allow-shared-token"], "exclude each other"),
                                      (shared + ["/nonexistent"], "cannot read --token-file"),
                                      (shared + [empty.path], "is empty"),
                                      (shared + [token.path, "--listen", "everywhere"], "must be ADDR:PORT"),
                                      (shared + [token.path, "--sources-per-cidr", "0"], "1 to 50"),
                                      (shared + [token.path, "--window", "soon"], "not a duration"),
                                      (shared + [token.path, "--window", "1000000h"], "--window '1000000h' is out of range: 1s to 60m"),
                                      (shared + [token.path, "--evaluation-interval", "1ms"], "--evaluation-interval '1ms' is out of range: 100ms to 1m"),
                                      (["agent", "--node-name", "x", "--aggregator", "https://x:9800", "--token-file", token.path, "--node-ip", "192.168.0.1",
                                        "--interval", "1000000h"], "--interval '1000000h' is out of range: 100ms to 60m"),
                                      (["agent", "--node-name", "x", "--aggregator", "https://x:9800", "--token-file", token.path, "--node-ip", "192.168.0.1",
                                        "--timeout", "1ns", "--interval", "1s"], "--timeout '1ns' is out of range: 10ms to 1m"),
                                      (shared + [token.path, "--max-nodes", "0"], "--max-nodes '0' is not a number"),
                                      (shared + [token.path, "--vpc-route-table", "/nonexistent"], "cannot read VPC route table"),
                                      (["aggregator", "--allow-shared-token", "--token-file", token.path], "missing '--tls-cert <tls-cert> --tls-key <tls-key>'"),
                                      (["aggregator", "--allow-shared-token", "--token-file", token.path, "--tls-cert", "/x"], "--tls-cert and --tls-key go together"),
                                      (["aggregator", "--allow-shared-token", "--token-file", token.path, "--tls-cert", "/x", "--tls-key", "/y"], "cannot read --tls-cert /x"),
                                      (["aggregator", "--allow-shared-token", "--token-file", token.path, "--tls-cert", Self.certificates.key,
                                        "--tls-key", Self.certificates.key], "holds no PEM certificate"),
                                      (["aggregator", "--allow-shared-token", "--token-file", token.path, "--tls-cert", Self.certificates.certificate,
                                        "--tls-key", Self.certificates.authority], "holds no PEM private key"),
                                      (["aggregator", "--allow-shared-token", "--token-file", token.path, "--tls-cert", Self.certificates.certificate,
                                        "--tls-key", "/x", "--plain-http"], "exclude each other"),
                                      (["aggregator", "--allow-shared-token", "--token-file", token.path, "--tls-cert", Self.certificates.certificate,
                                        "--tls-key", other.key], "does not belong to the certificate"),
                                      (["agent", "--node-name", "x", "--aggregator", "ftp://x"], "must be an https:// URL"),
                                      (["agent", "--node-name", "x", "--aggregator", "http://x:9800", "--token-file", token.path, "--node-ip", "192.168.0.1"],
                                       "is plain HTTP: the token would cross the network in clear"),
                                      (["agent", "--node-name", "x", "--aggregator", "https://x:9800", "--token-file", token.path, "--node-ip", "192.168.0.1",
                                        "--aggregator-ca", token.path], "holds no PEM certificate"),
                                      (["agent", "--node-name", "x", "--aggregator", "https://x:9800"], "--token-file is required")] {
            let result = try runProgram(executable, arguments)
            #expect(result.status == 2, "\(arguments): \(result.standardError)")
            #expect(result.standardError.contains(expected), "\(arguments): \(result.standardError)")
            #expect(result.standardError.split(separator: "\n").count <= 2, "\(arguments): \(result.standardError)")
        }
    }

    @Test("TLS: a wrong CA and plain HTTP get nowhere, agents that trust the CA report, and a rotated certificate is served without a restart")
    func tlsRefusesStrangersAndFollowsARotatedCertificate() async throws {
        try await withLab { lab in
            let certificates = try LabCertificates(["192.168.0.253"])
            let token = try TokenFile(Self.token)
            let vpc = lab.namespace("vpc")
            let server = try LabProcess(namespace: vpc, name: "aggregator",
                                        arguments: ["aggregator", "--listen", "192.168.0.253:9800", "--token-file", token.path, "--allow-shared-token",
                                                    "--tls-cert", certificates.certificate, "--tls-key", certificates.key,
                                                    "--syslog", "unix:/nonexistent/syslog.sock", "--evaluation-interval", "200ms"])
            defer { server.stop() }
            func health(trusting authority: String?, scheme: String = "https") -> (status: Int, body: String) {
                (try? httpRequest(in: vpc, "\(scheme)://192.168.0.253:9800/healthz", trusting: authority)) ?? (0, "")
            }
            var up = false
            for _ in 0..<50 where !up { up = health(trusting: certificates.authority).status == 200; if !up { try await Task.sleep(for: .milliseconds(100)) } }
            #expect(up, "\(server.log)")
            #expect(server.log.contains("listening on https://192.168.0.253:9800"))
            #expect(health(trusting: nil, scheme: "http").status == 0, "plain HTTP gets no answer from the TLS port")
            #expect(health(trusting: nil).status == 0, "a client without the CA does not trust it")

            // An agent that trusts another CA refuses the aggregator, says why, and sends no token.
            let stranger = try LabCertificates(["192.168.0.253"])
            let refused = try agent(lab, "node-a", token: token, syslog: "unix:/nonexistent/syslog.sock", trusting: stranger.authority)
            defer { refused.stop() }
            let trusted = try agent(lab, "node-b", token: token, syslog: "unix:/nonexistent/syslog.sock", trusting: certificates.authority)
            defer { trusted.stop() }
            for _ in 0..<50 where !(refused.log.contains("not trusted") && trusted.log.contains("registered with the aggregator")) {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(refused.log.contains("cannot register (the aggregator's certificate is not trusted: give --aggregator-ca the CA that signed it)"),
                    "\(refused.log)")
            #expect(!refused.log.contains("NIOSSL") && !refused.log.contains("BoringSSL") && !refused.log.contains(".cc:"), "\(refused.log)")
            #expect(trusted.log.contains("registered with the aggregator https://192.168.0.253:9800"), "\(trusted.log)")
            #expect(health(trusting: certificates.authority).body.contains(#""registered":1"#))

            // A new CA and certificate replace the files: the aggregator serves them without a restart.
            let oldAuthority = certificates.directory + "/old-ca.crt"
            try FileManager.default.copyItem(atPath: certificates.authority, toPath: oldAuthority)
            try certificates.rotate(newAuthority: true)
            var rotated = false
            for _ in 0..<50 where !rotated { rotated = health(trusting: certificates.authority).status == 200; if !rotated { try await Task.sleep(for: .milliseconds(100)) } }
            #expect(rotated, "\(server.log)")
            #expect(health(trusting: oldAuthority).status == 0, "the old certificate is no longer served")
            #expect(server.log.contains("TLS certificate \(certificates.certificate) read again"))
            // A stop with agents connected over TLS is prompt (it does not wait for each client's close_notify).
            let stopped = server.stop()
            #expect(stopped.map { $0 < 1.5 } == true, "stopped after \(stopped.map { String($0) } ?? "more than 5") s")
        }
    }
}
