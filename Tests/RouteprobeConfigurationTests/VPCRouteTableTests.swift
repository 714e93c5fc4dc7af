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
        let entries = try VPCRouteTableFile.load(path: fixture("aws-describe-route-tables.json"))
        #expect(entries.count == 6, "the prefix-list route names no CIDR and is skipped")
        let machines = entries.filter { $0.nextHopID != nil }
        #expect(machines.map(\.destination.description) == ["172.16.0.0/24", "172.16.2.0/24", "172.16.7.0/24"])
        #expect(machines.map(\.active) == [true, true, false])
        #expect(entries.first { $0.destination.description == "0.0.0.0/0" }?.nextHopType == "igw-0bd2b2ba2dEXAMPLE")
        #expect(entries.allSatisfy { $0.table == "rtb-09ba434c1bEXAMPLE" })
    }

    @Test("Alibaba Cloud DescribeRouteEntryList: NextHops.NextHop, system routes are no machine")
    func alibaba() throws {
        let entries = try VPCRouteTableFile.load(path: fixture("alibaba-describe-route-entry-list.json"))
        #expect(entries.count == 3)
        #expect(entries.filter { $0.nextHopID != nil }.map(\.nextHopID) == ["i-bp1aaa1111aaaa11", "i-bp1ccc3333cccc33"])
        #expect(entries.allSatisfy { $0.table == "vtb-bp1r9pvl4xen8s9ju2xxx" })
    }

    @Test("Alibaba Cloud DescribeRouteTables nests entries with InstanceId and NextHopType")
    func alibabaRouteTables() throws {
        let text = #"{"RouteTables":{"RouteTable":[{"RouteTableId":"vtb-1","RouteEntrys":{"RouteEntry":[{"DestinationCidrBlock":"172.16.1.0/24","InstanceId":"i-bp1bbb2222bbbb22","NextHopType":"Instance","Status":"Available","Type":"Custom"}]}}]}}"#
        let entries = try VPCRouteTableFile.parse(Data(text.utf8), source: "inline")
        #expect(entries == [VPCRouteEntry(destination: IPPrefix("172.16.1.0/24")!, nextHopID: "i-bp1bbb2222bbbb22",
                                          nextHopType: "Instance", active: true, table: "vtb-1")])
    }

    @Test("malformed tables give one line naming the place", arguments: [
        ("{", "not JSON"),
        ("[]", "expected a JSON object"),
        (#"{"Other": 1}"#, "expected RouteTables"),
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
