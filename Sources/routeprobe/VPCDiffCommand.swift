import RouteprobeCommandSupport
import Foundation
import RouteprobeConfiguration
import RouteprobeCore

/// `routeprobe vpc-diff`: the cloud's VPC route table against the cluster map.
struct VPCDiffCommand: Tool {
    static let tool = ToolDescription(
        path: ["vpc-diff"],
        abstract: "Compare a VPC route table (AWS or Alibaba Cloud JSON) with the cluster map.",
        discussion: """
            Reads the JSON that `aws ec2 describe-route-tables` or Alibaba Cloud's DescribeRouteEntryList \
            (or DescribeRouteTables) prints, and reports pod CIDRs without an entry (missing), entries that \
            point at another node (wrongNextHop), entries whose next hop is no node of the cluster (stale), \
            and overlapping entries. A node is an entry's next hop when the entry names the node's \
            instanceID (cluster map key), name or IP. Exit status: 0 no problem, 1 problems, 2 usage error.
            """,
        options: [
            ToolOption("routes", .value(placeholder: "routes"), help: "The route table JSON, as the cloud CLI prints it."),
            ToolOption("cluster-map", .value(placeholder: "cluster-map"), help: "Cluster map file (YAML or JSON) with each node's instanceID."),
            ToolOption("json", .flag, help: "Print {\"problems\": [...]} as JSON."),
        ])

    var routes: String
    var clusterMap: String
    var json: Bool

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        guard let routes = line.value("routes") else { throw Self.tool.usage("missing '--routes <routes>'") }
        guard let clusterMap = line.value("cluster-map") else { throw Self.tool.usage("missing '--cluster-map <cluster-map>'") }
        self.routes = routes
        self.clusterMap = clusterMap
        json = line.flag("json")
    }

    func run() throws {
        let map: ClusterMap
        let entries: [VPCRouteEntry]
        do {
            map = try ClusterMapFile.load(path: clusterMap)
            entries = try VPCRouteTableFile.load(path: routes)
        } catch {
            throw CommandFailure.usage(error.description)
        }
        let diff = VPCRouteDiff(entries: entries, cluster: map)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let data = try encoder.encode(["problems": diff.problems])
            writeToStandardOutput(Array(data) + [10])
        } else if diff.problems.isEmpty {
            let cidrs = map.nodes.reduce(0) { $0 + $1.podCIDRs.count }
            writeToStandardOutput("All \(cidrs) pod CIDRs have a VPC route entry to their node (\(entries.count) entries read).\n")
        } else {
            let rows = [["CIDR", "PROBLEM", "DETAIL"]] + diff.problems.map { [$0.cidr.description, $0.kind.rawValue, $0.message] }
            writeToStandardOutput(TextTable.render(rows))
        }
        if !diff.problems.isEmpty { throw ExitStatus(1) }
    }
}
