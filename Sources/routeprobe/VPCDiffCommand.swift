import RouteprobeCommandSupport
import Foundation
import RouteprobeConfiguration
import RouteprobeCore

/// `routeprobe vpc-diff`: the cloud's VPC route table against the cluster map.
struct VPCDiffCommand: Tool {
    static let tool = ToolDescription(
        path: ["vpc-diff"],
        abstract: "Compare a VPC route table (AWS, Alibaba Cloud, Azure or GCP JSON) with the cluster map.",
        discussion: """
            Reads the JSON a cloud CLI prints, recognised by its content: `aws ec2 describe-route-tables`; \
            Alibaba Cloud's DescribeRouteEntryList or DescribeRouteTables; `az network route-table route list`, \
            `az network route-table show` or `route show`; `gcloud compute routes list --format=json`. \
            It reports pod CIDRs without an entry (missing), entries that point at another node (wrongNextHop), \
            entries whose next hop is no node of the cluster (stale), overlapping entries (overlap; on GCP also \
            routes that are not the cluster's but cover pod addresses), two entries for one CIDR with different \
            next hops (conflict), Azure routes whose provisioning has not succeeded (notProvisioned), and a table \
            at 90% of its limit or more (nearlyFull). A node is an entry's next hop when the entry names the \
            node's instanceID (cluster map key), name or IP; on GCP also when the route's name carries the node's \
            uid (cluster map key). The limit is the cloud's default (AWS 50 routes per table, Alibaba Cloud 200 \
            custom entries, Azure 400 routes, GCP a project quota of 250 routes) unless --route-table-limit says \
            otherwise. Exit status: 0 no problem, 1 problems, 2 usage error.
            """,
        options: [
            ToolOption("routes", .value(placeholder: "routes"), help: "The route table JSON, as the cloud CLI prints it (- reads standard input)."),
            ToolOption("cluster-map", .value(placeholder: "cluster-map"), help: "Cluster map file (YAML or JSON) with each node's instanceID (and uid on GCP)."),
            ToolOption("route-table-limit", .value(placeholder: "route-table-limit"), help: "The table's limit of entries, when it is not the cloud's default."),
            ToolOption("json", .flag, help: "Print {\"cloud\": ..., \"capacity\": {\"used\": U, \"limit\": L}, \"problems\": [...]} as JSON."),
        ])

    var routes: String
    var clusterMap: String
    var limit: Int?
    var json: Bool

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        guard let routes = line.value("routes") else { throw Self.tool.usage("missing '--routes <routes>'") }
        guard let clusterMap = line.value("cluster-map") else { throw Self.tool.usage("missing '--cluster-map <cluster-map>'") }
        self.routes = routes
        self.clusterMap = clusterMap
        limit = try line.integer("route-table-limit", in: 1...1_000_000, default: nil, tool: Self.tool)
        json = line.flag("json")
    }

    private struct Output: Encodable {
        var cloud: VPCCloud
        var capacity: VPCRouteDiff.Capacity
        var problems: [VPCRouteDiff.Problem]
    }

    func run() throws {
        let map: ClusterMap
        let table: VPCRouteTable
        do {
            map = try ClusterMapFile.load(path: clusterMap)
            table = try VPCRouteTableFile.load(path: routes)
        } catch {
            throw CommandFailure.usage(error.description)
        }
        let diff = VPCRouteDiff(table: table, cluster: map, limit: limit)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let data = try encoder.encode(Output(cloud: table.cloud, capacity: diff.capacity, problems: diff.problems))
            writeToStandardOutput(Array(data) + [10])
        } else {
            if diff.problems.isEmpty {
                let cidrs = map.nodes.reduce(0) { $0 + $1.podCIDRs.count }
                writeToStandardOutput("All \(cidrs) pod CIDRs have a VPC route entry to their node (\(table.entries.count) \(table.cloud.displayName) entries read).\n")
            } else {
                let rows = [["CIDR", "PROBLEM", "DETAIL"]] + diff.problems.map { [$0.cidr?.description ?? "-", $0.kind.rawValue, $0.message] }
                writeToStandardOutput(TextTable.render(rows))
            }
            writeToStandardOutput("route table: \(diff.capacity.used)/\(diff.capacity.limit) entries (\(table.cloud.displayName), \(table.cloud.limitScope))\n")
        }
        if !diff.problems.isEmpty { throw ExitStatus(1) }
    }
}
