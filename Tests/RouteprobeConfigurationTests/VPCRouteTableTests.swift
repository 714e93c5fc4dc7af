import Foundation
import Testing
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeTestSupport

private func fixture(_ name: String) -> String {
    Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!.path
}

@Suite("VPC route tables as the cloud CLIs print them")
struct VPCRouteTableTests {
    @Test("aws ec2 describe-route-tables: instance entries, gateways, a blackhole, prefix lists skipped")
    func aws() throws {
        let table = try VPCRouteTableFile.load(path: fixture("aws-describe-route-tables.json"))
        #expect(table.cloud == .aws)
        let entries = table.entries
        #expect(entries.count == 6, "the prefix-list route names no CIDR and is skipped")
        let machines = entries.filter { $0.nextHopID != nil }
        #expect(machines.map(\.destination.description) == ["172.16.0.0/24", "172.16.2.0/24", "172.16.7.0/24"])
        #expect(machines.map(\.active) == [true, true, false])
        #expect(entries.first { $0.destination.description == "0.0.0.0/0" }?.nextHopType == "igw-0bd2b2ba2dEXAMPLE")
        #expect(entries.allSatisfy { $0.table == "rtb-09ba434c1bEXAMPLE" })
    }

    @Test("Alibaba Cloud DescribeRouteEntryList: NextHops.NextHop, system routes are no machine")
    func alibaba() throws {
        let table = try VPCRouteTableFile.load(path: fixture("alibaba-describe-route-entry-list.json"))
        #expect(table.cloud == .alibaba)
        let entries = table.entries
        #expect(entries.count == 3)
        #expect(entries.filter { $0.nextHopID != nil }.map(\.nextHopID) == ["i-bp1aaa1111aaaa11", "i-bp1ccc3333cccc33"])
        #expect(entries.allSatisfy { $0.table == "vtb-bp1r9pvl4xen8s9ju2xxx" })
    }

    @Test("Alibaba Cloud DescribeRouteTables nests entries with InstanceId and NextHopType")
    func alibabaRouteTables() throws {
        let text = #"{"RouteTables":{"RouteTable":[{"RouteTableId":"vtb-1","RouteEntrys":{"RouteEntry":[{"DestinationCidrBlock":"172.16.1.0/24","InstanceId":"i-bp1bbb2222bbbb22","NextHopType":"Instance","Status":"Available","Type":"Custom"}]}}]}}"#
        let entries = try VPCRouteTableFile.parse(Data(text.utf8), source: "inline").entries
        #expect(entries == [VPCRouteEntry(destination: IPPrefix("172.16.1.0/24")!, nextHopID: "i-bp1bbb2222bbbb22",
                                          nextHopType: "Instance", active: true, table: "vtb-1")])
    }

    @Test("malformed tables give one line naming the place", arguments: [
        ("{", "not JSON"),
        (#"{"Other": 1}"#, "not a route table routeprobe reads; expected the JSON of AWS (aws ec2 describe-route-tables), Alibaba Cloud"),
        ("[1, 2]", "Azure (az network route-table route list (or route-table show)), GCP (gcloud compute routes list --format=json)"),
        ("[]", "an empty list: no route to read"),
        (#"[{"addressPrefix": "10.244.0.0/24", "nextHopType": "VirtualAppliance"}]"#, "[0]: a VirtualAppliance route needs nextHopIpAddress"),
        (#"[{"addressPrefix": "10.244.0.0", "nextHopType": "None"}]"#, "[0]: '10.244.0.0' is not a CIDR"),
        (#"[{"addressPrefix": "10.244.0.7/24", "nextHopType": "None"}]"#, "[0]: '10.244.0.7/24' has host bits set: the CIDR is 10.244.0.0/24"),
        (#"{"routes": {}}"#, "routes is not a list"),
        (#"[{"destRange": "10.4.0.0/24", "nextHopInstance": "https://x/zones/z/disks/d"}]"#, "does not end in instances/NAME"),
        (#"[{"destRange": "10.4.0.0/24", "nextHopIp": "10.4.0.300"}]"#, "nextHopIp '10.4.0.300' is not an IP address"),
        (#"[{"kind": "compute#route"}]"#, "[0]: destination CIDR missing"),
        (#"{"RouteTables": [{"RouteTableId": "x"}]}"#, "RouteTables[0].Routes is missing"),
        (#"{"RouteTables": [{"Routes": [{"DestinationCidrBlock": "172.16.1.0", "InstanceId": "i-1"}]}]}"#, "'172.16.1.0' is not a CIDR"),
        (#"{"RouteTables": [{"Routes": [7]}]}"#, "RouteTables[0].Routes[0] is not an object"),
        (#"{"RouteEntrys": {"RouteEntry": {}}}"#, "RouteEntrys.RouteEntry is not a list"),
        (#"{"RouteEntrys": {"RouteEntry": [{"NextHops": {}}]}}"#, "RouteEntrys.RouteEntry[0]: destination CIDR missing"),
    ])
    func malformed(text: String, expected: String) {
        #expect {
            _ = try VPCRouteTableFile.parse(Data(text.utf8), source: "t.json")
        } throws: { error in
            let description = (error as? ConfigurationError)?.description ?? ""
            return description.hasPrefix("VPC route table t.json: ") && description.contains(expected) && !description.contains("\n")
        }
    }

    @Test("Azure az network route-table route list: next hops are the nodes' IPs, routes named after nodes, provisioning state kept")
    func azure() throws {
        let table = try VPCRouteTableFile.load(path: fixture("azure-route-table-route-list.json"))
        #expect(table.cloud == .azure)
        #expect(table.entries.count == 6)
        let first = try #require(table.entries.first)
        #expect(first.nextHopID == "10.224.0.4" && first.nextHopType == "VirtualAppliance")
        #expect(first.namedNode == "aks-nodepool1-31207428-vmss000000")
        #expect(first.table == "aks-agentpool-31207428-routetable", "the table is named in the route's id")
        #expect(table.entries.map(\.unfinishedState) == [nil, nil, "Updating", nil, nil, nil])
        #expect(table.entries.first { $0.nextHopType == "Internet" }?.nextHopID == nil)
    }

    @Test("Azure route-table show and route show, and dual-stack route names NODE____CIDR")
    func azureShapes() throws {
        let show = #"{"name": "aks-agentpool-31207428-routetable", "provisioningState": "Succeeded", "routes": [{"name": "aks-nodepool1-31207428-vmss000000____fd1234000000000000000000000000000064", "addressPrefix": "fd12:3400::/64", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "fd00:10:224::4", "provisioningState": "Succeeded"}], "type": "Microsoft.Network/routeTables"}"#
        let table = try VPCRouteTableFile.parse(Data(show.utf8), source: "show.json")
        #expect(table.cloud == .azure)
        let route = try #require(table.entries.only)
        #expect(route.namedNode == "aks-nodepool1-31207428-vmss000000")
        #expect(route.destination == IPPrefix("fd12:3400::/64"))
        #expect(route.nextHopID == "fd00:10:224::4")
        #expect(route.table == "aks-agentpool-31207428-routetable")
        let one = #"{"name": "n1", "addressPrefix": "10.244.5.0/24", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.224.0.9", "provisioningState": "Failed"}"#
        let single = try VPCRouteTableFile.parse(Data(one.utf8), source: "route.json")
        #expect(single.cloud == .azure && single.entries.only?.unfinishedState == "Failed")
    }

    @Test("GCP gcloud compute routes list: instance names, node UIDs from route names, the cluster's routes told apart")
    func gcp() throws {
        let table = try VPCRouteTableFile.load(path: fixture("gcp-compute-routes-list.json"))
        #expect(table.cloud == .gcp)
        #expect(table.entries.count == 9)
        let byName = Dictionary(uniqueKeysWithValues: table.entries.compactMap { entry in entry.name.map { ($0, entry) } })
        let nodeA = try #require(byName["gke-demo-3c1f2a0b-0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"])
        #expect(nodeA.nextHopID == "gke-demo-default-pool-6f1e2d3c-a1b2" && nodeA.nextHopType == "instance")
        #expect(nodeA.namedNodeUID == "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d" && nodeA.clusterManaged)
        #expect(byName["kubernetes-5e6f7a8b-9c0d-4e2f-8a4b-5c6d7e8f9a0b"]?.namedNodeUID == "5e6f7a8b-9c0d-4e2f-8a4b-5c6d7e8f9a0b")
        #expect(byName["vpn-to-onprem"]?.nextHopID == "10.132.0.50" && byName["vpn-to-onprem"]?.clusterManaged == false)
        #expect(byName["default-route-a1b2c3d4e5f60718"]?.nextHopID == nil)
        #expect(byName["default-route-a1b2c3d4e5f60718"]?.nextHopType == "default-internet-gateway")
        #expect(byName["default-route-5b6c7d8e9f0a1b2c"]?.countsAgainstLimit == false, "subnet routes are not in the routes quota")
        #expect(table.usedEntries == 8)
    }

    @Test("routeprobe vpc-diff names the missing entry and the stale one, exit 1; --json too")
    func cliAWS() throws {
        let routeprobe = try routeprobeExecutable()
        let result = try runProgram(routeprobe, ["vpc-diff", "--routes", fixture("aws-describe-route-tables.json"),
                                                 "--cluster-map", fixture("aws-cluster-map.yaml")])
        #expect(result.status == 1)
        #expect(result.standardOutput.contains("no VPC route entry for 172.16.1.0/24; it should point to node-b (192.168.0.50)"))
        #expect(result.standardOutput.contains("stale"))
        #expect(result.standardOutput.contains("172.16.7.0/24 -> i-0deadbeefdeadbeef points to no node"))
        let json = try runProgram(routeprobe, ["vpc-diff", "--json", "--routes", fixture("aws-describe-route-tables.json"),
                                               "--cluster-map", fixture("aws-cluster-map.yaml")])
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        let problems = try #require(object?["problems"] as? [[String: Any]])
        #expect(problems.compactMap { $0["kind"] as? String }.sorted() == ["missing", "stale"])
        #expect(object?["cloud"] as? String == "aws")
        let capacity = try #require(object?["capacity"] as? [String: Int])
        #expect(capacity == ["used": 6, "limit": 50])
        #expect(result.standardOutput.hasSuffix("route table: 6/50 entries (AWS, entries in the route table)\n"))
    }

    /// The problems `vpc-diff --json` finds, as "kind cidr" lines.
    private func problems(_ routes: String, _ map: String) throws -> [String] {
        let result = try runProgram(try routeprobeExecutable(), ["vpc-diff", "--json", "--routes", fixture(routes), "--cluster-map", fixture(map)])
        #expect(result.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        return (object?["problems"] as? [[String: Any]] ?? []).map { "\($0["kind"] as? String ?? "?") \($0["cidr"] as? String ?? "-")" }
    }

    @Test("AWS with two route tables: wrong next hop, stale, overlap within a table, conflict across tables")
    func awsProblems() throws {
        let found = try problems("aws-describe-route-tables-problems.json", "aws-cluster-map.yaml")
        #expect(found == ["wrongNextHop 172.16.1.0/24", "stale 172.16.9.0/24", "overlap 172.16.0.0/24", "overlap 172.16.1.0/24",
                          "conflict 172.16.2.0/24"], "\(found)")
    }

    @Test("Alibaba Cloud DescribeRouteTables: wrong next hop, stale, overlap, a conflict with a second table, a Pending entry")
    func alibabaProblems() throws {
        let found = try problems("alibaba-describe-route-tables-problems.json", "alibaba-cluster-map.yaml")
        #expect(found == ["wrongNextHop 172.16.1.0/24", "stale 172.16.8.0/24", "overlap 172.16.0.0/24", "overlap 172.16.1.0/24",
                          "overlap 172.16.2.0/24", "conflict 172.16.0.0/24", "notProvisioned 172.16.2.0/24"], "\(found)")
        let table = try VPCRouteTableFile.load(path: fixture("alibaba-describe-route-tables-problems.json"))
        #expect(table.usedEntries == 5, "the system entry is free")
    }

    @Test("routeprobe vpc-diff on Azure: wrong next hop, stale, overlap, not provisioned, missing; matched by IP and route name")
    func cliAzure() throws {
        let result = try runProgram(try routeprobeExecutable(), ["vpc-diff", "--routes", fixture("azure-route-table-route-list.json"),
                                                                 "--cluster-map", fixture("azure-cluster-map.yaml"), "--json"])
        #expect(result.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        let problems = try #require(object?["problems"] as? [[String: Any]])
        let kinds = problems.map { "\($0["kind"] as? String ?? "?") \($0["cidr"] as? String ?? "-")" }
        #expect(Set(kinds) == ["wrongNextHop 10.244.1.0/24", "missing 10.244.3.0/24", "stale 10.244.7.0/24", "overlap 10.244.0.0/24",
                               "overlap 10.244.1.0/24", "notProvisioned 10.244.2.0/24"], "\(kinds)")
        let wrong = try #require(problems.first { $0["kind"] as? String == "wrongNextHop" })
        #expect((wrong["message"] as? String)?.contains("aks-nodepool1-31207428-vmss000001 (10.244.1.0/24 -> 10.224.0.6) points to aks-nodepool1-31207428-vmss000002") == true)
        #expect(object?["capacity"] as? [String: Int] == ["used": 6, "limit": 400])
    }

    @Test("routeprobe vpc-diff on GCP: UID matching, wrong next hop, stale, conflict, a foreign route over pod CIDRs, another network ignored")
    func cliGCP() throws {
        let result = try runProgram(try routeprobeExecutable(), ["vpc-diff", "--routes", fixture("gcp-compute-routes-list.json"),
                                                                 "--cluster-map", fixture("gcp-cluster-map.yaml")])
        #expect(result.status == 1)
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        func line(_ kind: String, _ cidr: String) -> String? { lines.first { $0.hasPrefix(cidr) && $0.contains(" \(kind) ") } }
        #expect(line("wrongNextHop", "10.4.2.0/24")?.contains("instead of gke-demo-default-pool-6f1e2d3c-e5f6") == true)
        #expect(line("missing", "10.4.3.0/24") != nil)
        #expect(line("stale", "10.4.9.0/24") != nil)
        #expect(line("conflict", "10.4.0.0/24")?.contains("kubernetes-5e6f7a8b") == true)
        #expect(line("overlap", "10.4.2.0/24")?.contains("vpn-to-onprem") == true)
        #expect(line("overlap", "10.4.3.0/24")?.contains("vpn-to-onprem") == true)
        #expect(!result.standardOutput.contains("10.4.1.0/24"), "node-b's route reaches it through its UID: no problem")
        #expect(!result.standardOutput.contains("10.8.0.0/24"), "the staging network's cluster is another cluster")
        #expect(lines.last == "route table: 8/250 entries (GCP, routes in the project)")
    }

    @Test("a table at 90% of its limit says how many more nodes fit; --route-table-limit overrides the cloud's default")
    func capacity() throws {
        let routeprobe = try routeprobeExecutable()
        let full = try runProgram(routeprobe, ["vpc-diff", "--routes", fixture("azure-route-table-route-list.json"),
                                               "--cluster-map", fixture("azure-cluster-map.yaml"), "--route-table-limit", "6"])
        #expect(full.standardOutput.contains("-              nearlyFull      the Azure route table holds 6 of 6 entries in the route table: a new node gets no route"))
        #expect(full.standardOutput.hasSuffix("route table: 6/6 entries (Azure, entries in the route table)\n"))
        let below = try runProgram(routeprobe, ["vpc-diff", "--routes", fixture("azure-route-table-route-list.json"),
                                                "--cluster-map", fixture("azure-cluster-map.yaml"), "--route-table-limit", "7"])
        #expect(!below.standardOutput.contains("nearlyFull"), "6 of 7 is 86%, under 90%")
        let roomy = try runProgram(routeprobe, ["vpc-diff", "--routes", fixture("azure-route-table-route-list.json"),
                                                "--cluster-map", fixture("azure-cluster-map.yaml"), "--route-table-limit", "100"])
        #expect(!roomy.standardOutput.contains("nearlyFull"))
        let bad = try runProgram(routeprobe, ["vpc-diff", "--routes", fixture("azure-route-table-route-list.json"),
                                              "--cluster-map", fixture("azure-cluster-map.yaml"), "--route-table-limit", "0"])
        #expect(bad.status == 2)
        #expect(bad.standardError.contains("--route-table-limit '0' is not a number from 1 to 1000000"))
    }

    @Test("routeprobe vpc-diff on Alibaba Cloud: node-b's entry points at node-c, node-c's is missing")
    func cliAlibaba() throws {
        let result = try runProgram(try routeprobeExecutable(), ["vpc-diff", "--routes", fixture("alibaba-describe-route-entry-list.json"),
                                                                 "--cluster-map", fixture("alibaba-cluster-map.yaml")])
        #expect(result.status == 1)
        #expect(result.standardOutput.contains("the VPC route entry 172.16.1.0/24 points to node-c (192.168.0.60) instead of node-b (192.168.0.50)"))
        #expect(result.standardOutput.contains("no VPC route entry for 172.16.2.0/24"))
    }

    @Test("bad files are usage errors: one line, exit 2")
    func cliErrors() throws {
        let routeprobe = try routeprobeExecutable()
        let missing = try runProgram(routeprobe, ["vpc-diff", "--routes", "/nonexistent.json", "--cluster-map", fixture("aws-cluster-map.yaml")])
        #expect(missing.status == 2)
        #expect(missing.standardError == "routeprobe: cannot read VPC route table /nonexistent.json: no such file\n")
        let notJSON = try runProgram(routeprobe, ["vpc-diff", "--routes", fixture("aws-cluster-map.yaml"), "--cluster-map", fixture("aws-cluster-map.yaml")])
        #expect(notJSON.status == 2)
        #expect(notJSON.standardError.hasPrefix("routeprobe: VPC route table ") && notJSON.standardError.split(separator: "\n").count == 1)
    }
}

@Suite("VPC route tables of the lab in every cloud's format", .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct VPCRouteTableLabTests {
    @Test("the lab's VPC router, exported as AWS, Azure and GCP print it: node-b's deleted entry is the one problem, then none")
    func everyFormat() async throws {
        try await withLab { lab in
            let routeprobe = try routeprobeExecutable()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.prefix)tables")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            func diff(_ format: String) throws -> (status: Int32, object: [String: Any]) {
                let path = directory.appendingPathComponent("\(format).json").path
                try lab.output(["vpc-table", "--format", format]).write(toFile: path, atomically: true, encoding: .utf8)
                let result = try runProgram(routeprobe, ["vpc-diff", "--json", "--routes", path, "--cluster-map", lab.mapPath])
                let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any] ?? [:]
                return (result.status, object)
            }
            try lab.run("break-vpc-route", "node-b")
            for format in ["aws", "azure", "gcp"] {
                let (status, object) = try diff(format)
                #expect(status == 1 && object["cloud"] as? String == format)
                let problems = object["problems"] as? [[String: Any]] ?? []
                #expect(problems.map { "\($0["kind"] ?? "") \($0["cidr"] ?? "")" } == ["missing 172.16.1.0/24"], "\(format): \(problems)")
            }
            try lab.run("restore-vpc-route", "node-b")
            for format in ["aws", "azure", "gcp"] {
                let (status, object) = try diff(format)
                #expect(status == 0 && (object["problems"] as? [Any])?.isEmpty == true, "\(format): \(object)")
            }
        }
    }

    @Test("dual stack: only node-b's IPv6 entry deleted is the one problem in every format; Azure's NODE____CIDR routes match by IPv6 next hop")
    func dualStack() async throws {
        try await withLab(dualStack: true) { lab in
            let routeprobe = try routeprobeExecutable()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.prefix)tables6")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try lab.run("break-vpc-route", "node-b", "--family", "6")
            for format in ["aws", "azure", "gcp"] {
                let path = directory.appendingPathComponent("\(format).json").path
                let table = try lab.output(["vpc-table", "--format", format])
                try table.write(toFile: path, atomically: true, encoding: .utf8)
                #expect(table.contains("fd00:172:16"), "\(format) exports the IPv6 entries")
                let result = try runProgram(routeprobe, ["vpc-diff", "--json", "--routes", path, "--cluster-map", lab.mapPath])
                let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any] ?? [:]
                let problems = object["problems"] as? [[String: Any]] ?? []
                #expect(problems.map { "\($0["kind"] ?? "") \($0["cidr"] ?? "")" } == ["missing fd00:172:16:1::/64"], "\(format): \(problems)")
                #expect(((problems.first?["expectedNextHop"] as? [String: Any])?["ip"] as? String) == "fd00:192:168::50")
            }
        }
    }
}
