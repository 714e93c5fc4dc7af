import Foundation
import RouteprobeCore

/// Reads a cloud VPC route table as the cloud's CLI prints it, recognised by its content:
/// - AWS `aws ec2 describe-route-tables`: `{"RouteTables": [{"RouteTableId", "Routes": [{"DestinationCidrBlock"
///   | "DestinationIpv6CidrBlock", "InstanceId" | "NetworkInterfaceId" | "GatewayId" ..., "State"}]}]}`;
/// - Alibaba Cloud `DescribeRouteEntryList`: `{"RouteEntrys": {"RouteEntry": [{"DestinationCidrBlock",
///   "RouteTableId", "Status", "NextHops": {"NextHop": [{"NextHopType", "NextHopId"}]}}]}}`, and the route
///   entries nested in `DescribeRouteTables` output (`RouteTables.RouteTable[].RouteEntrys.RouteEntry[]`, whose
///   entries carry `InstanceId` and `NextHopType` directly);
/// - Azure `az network route-table route list` (a list of routes), `az network route-table show` (an object
///   with `routes`) and `az network route-table route show` (one route): `name`, `addressPrefix`,
///   `nextHopType`, `nextHopIpAddress`, `provisioningState`. The cloud provider names a kubenet route after
///   its node, `NODE` or, on dual stack, `NODE____CIDR` (the CIDR without `:`, `.` and `/`);
/// - GCP `gcloud compute routes list --format=json` (a list of `compute#route`, or one from `routes describe`):
///   `name`, `destRange`, `network`, `nextHopInstance` (a URL ending in `zones/ZONE/instances/NAME`),
///   `nextHopIp`, `nextHopGateway`, `description` (`k8s-node-route` for the cluster's own). The route name
///   carries the node's UID: `kubernetes-UID` or `gke-CLUSTER-HASH-UID`.
public enum VPCRouteTableFile {
    /// Loads and parses a file (`-` is standard input); the error is one line naming the file and what is wrong.
    public static func load(path: String) throws(ConfigurationError) -> VPCRouteTable {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            // A FileHandle also reads pipes such as /dev/fd/63 from a shell's <(...).
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ConfigurationError("cannot read VPC route table \(path): no such file")
            }
            guard !isDirectory.boolValue, let handle = FileHandle(forReadingAtPath: path) else {
                throw ConfigurationError("cannot read VPC route table \(path): \(isDirectory.boolValue ? "a directory" : "permission denied")")
            }
            defer { try? handle.close() }
            data = handle.readDataToEndOfFile()
        }
        return try parse(data, source: path == "-" ? "on standard input" : path)
    }

    /// Parses JSON text; `source` names it in errors.
    public static func parse(_ data: Data, source: String) throws(ConfigurationError) -> VPCRouteTable {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigurationError("VPC route table \(source): not JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "parse error"))")
        }
        do throws(ConfigurationError) {
            if let top = object as? [String: Any] {
                if let tables = top["RouteTables"] as? [Any] { return VPCRouteTable(cloud: .aws, entries: try aws(tables)) }
                if let entries = top["RouteEntrys"] as? [String: Any] {
                    return VPCRouteTable(cloud: .alibaba, entries: try alibaba(entries["RouteEntry"], table: nil))
                }
                if let tables = top["RouteTables"] as? [String: Any] {
                    guard let list = tables["RouteTable"] as? [Any] else { throw ConfigurationError("RouteTables.RouteTable is not a list") }
                    var result: [VPCRouteEntry] = []
                    for (index, table) in list.enumerated() {
                        guard let table = table as? [String: Any] else { throw ConfigurationError("RouteTables.RouteTable[\(index)] is not an object") }
                        result += try alibaba((table["RouteEntrys"] as? [String: Any])?["RouteEntry"], table: table["RouteTableId"] as? String)
                    }
                    return VPCRouteTable(cloud: .alibaba, entries: result)
                }
                if top["addressPrefix"] != nil { return VPCRouteTable(cloud: .azure, entries: try azure([top], at: "", table: nil)) }
                if top["routes"] != nil, top["destRange"] == nil {
                    guard let routes = top["routes"] as? [Any] else { throw ConfigurationError("routes is not a list") }
                    return VPCRouteTable(cloud: .azure, entries: try azure(routes, at: "routes", table: top["name"] as? String))
                }
                if top["destRange"] != nil { return VPCRouteTable(cloud: .gcp, entries: try gcp([top], at: "")) }
            }
            if let list = object as? [Any] {
                let objects = list.compactMap { $0 as? [String: Any] }
                if list.isEmpty {
                    throw ConfigurationError("an empty list: no route to read (is it the right project, network or route table?)")
                }
                if objects.contains(where: { $0["addressPrefix"] != nil }) { return VPCRouteTable(cloud: .azure, entries: try azure(list, at: "", table: nil)) }
                if objects.contains(where: { $0["destRange"] != nil || ($0["kind"] as? String) == "compute#route" }) {
                    return VPCRouteTable(cloud: .gcp, entries: try gcp(list, at: ""))
                }
            }
        } catch {
            throw ConfigurationError("VPC route table \(source): \(error.description)")
        }
        let formats = VPCCloud.allCases.map { "\($0.displayName) (\($0.exportCommand))" }.joined(separator: ", ")
        throw ConfigurationError("VPC route table \(source): not a route table routeprobe reads; expected the JSON of \(formats)")
    }

    private static func prefix(_ value: Any?, at path: String) throws(ConfigurationError) -> IPPrefix {
        guard let text = value as? String else { throw ConfigurationError("\(path): destination CIDR missing") }
        if let problem = IPPrefix.problem(text) { throw ConfigurationError("\(path): \(problem)") }
        return IPPrefix(text)!
    }

    private static func aws(_ tables: [Any]) throws(ConfigurationError) -> [VPCRouteEntry] {
        var result: [VPCRouteEntry] = []
        for (tableIndex, table) in tables.enumerated() {
            guard let table = table as? [String: Any] else { throw ConfigurationError("RouteTables[\(tableIndex)] is not an object") }
            guard let routes = table["Routes"] as? [Any] else { throw ConfigurationError("RouteTables[\(tableIndex)].Routes is missing") }
            let tableID = table["RouteTableId"] as? String
            for (index, route) in routes.enumerated() {
                let path = "RouteTables[\(tableIndex)].Routes[\(index)]"
                guard let route = route as? [String: Any] else { throw ConfigurationError("\(path) is not an object") }
                // Prefix-list destinations (DestinationPrefixListId) name no CIDR: nothing to compare.
                if route["DestinationCidrBlock"] == nil, route["DestinationIpv6CidrBlock"] == nil, route["DestinationPrefixListId"] != nil { continue }
                let destination = try prefix(route["DestinationCidrBlock"] ?? route["DestinationIpv6CidrBlock"], at: path)
                let active = (route["State"] as? String).map { $0 != "blackhole" } ?? true
                if let instance = route["InstanceId"] as? String {
                    result.append(VPCRouteEntry(destination: destination, nextHopID: instance, nextHopType: "Instance", active: active, table: tableID))
                } else if let interface = route["NetworkInterfaceId"] as? String {
                    result.append(VPCRouteEntry(destination: destination, nextHopID: interface, nextHopType: "NetworkInterface", active: active, table: tableID))
                } else {
                    let gateway = ["GatewayId", "NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId", "LocalGatewayId",
                                   "CarrierGatewayId", "EgressOnlyInternetGatewayId", "CoreNetworkArn"]
                        .lazy.compactMap { route[$0] as? String }.first ?? "unknown"
                    result.append(VPCRouteEntry(destination: destination, nextHopID: nil, nextHopType: gateway, active: active, table: tableID))
                }
            }
        }
        return result
    }

    private static func alibaba(_ list: Any?, table: String?) throws(ConfigurationError) -> [VPCRouteEntry] {
        guard let list = list as? [Any] else { throw ConfigurationError("RouteEntrys.RouteEntry is not a list") }
        var result: [VPCRouteEntry] = []
        for (index, entry) in list.enumerated() {
            let path = "RouteEntrys.RouteEntry[\(index)]"
            guard let entry = entry as? [String: Any] else { throw ConfigurationError("\(path) is not an object") }
            let destination = try prefix(entry["DestinationCidrBlock"], at: path)
            let status = entry["Status"] as? String
            let active = status.map { $0 == "Available" || $0 == "Pending" || $0 == "Modifying" } ?? true
            let unfinished = status.flatMap { $0 == "Pending" || $0 == "Modifying" ? $0 : nil }
            let tableID = (entry["RouteTableId"] as? String) ?? table
            // DescribeRouteEntryList: NextHops.NextHop[]; DescribeRouteTables: InstanceId + NextHopType.
            var hops: [(type: String, id: String?)] = []
            if let nextHops = (entry["NextHops"] as? [String: Any])?["NextHop"] as? [Any] {
                for hop in nextHops {
                    guard let hop = hop as? [String: Any] else { throw ConfigurationError("\(path).NextHops.NextHop is not a list of objects") }
                    hops.append((hop["NextHopType"] as? String ?? "unknown", hop["NextHopId"] as? String))
                }
            } else {
                let id = (entry["InstanceId"] as? String).flatMap { $0.isEmpty ? nil : $0 }
                hops.append((entry["NextHopType"] as? String ?? entry["Type"] as? String ?? "unknown", id))
            }
            // The limit counts custom entries: the system ones (vSwitch and cloud-service routes) are free.
            let custom = (entry["Type"] as? String).map { $0 != "System" } ?? true
            for hop in hops {
                let isMachine = ["Instance", "NetworkInterface", "HaVip", "Ecs", "EcsInstance"].contains(hop.type)
                result.append(VPCRouteEntry(destination: destination, nextHopID: isMachine ? hop.id : nil,
                                            nextHopType: hop.type, active: active, table: tableID, unfinishedState: unfinished,
                                            countsAgainstLimit: custom))
            }
        }
        return result
    }

    /// Azure routes. A kubenet route's next hop is the node's IP (`VirtualAppliance`); its name is its node's.
    private static func azure(_ routes: [Any], at base: String, table: String?) throws(ConfigurationError) -> [VPCRouteEntry] {
        var result: [VPCRouteEntry] = []
        for (index, route) in routes.enumerated() {
            let path = base.isEmpty ? "[\(index)]" : "\(base)[\(index)]"
            guard let route = route as? [String: Any] else { throw ConfigurationError("\(path) is not an object") }
            let destination = try prefix(route["addressPrefix"], at: path)
            guard let type = route["nextHopType"] as? String else { throw ConfigurationError("\(path): nextHopType missing") }
            let name = route["name"] as? String
            var nextHop: String? = nil
            if type == "VirtualAppliance" {
                guard let text = route["nextHopIpAddress"] as? String, let address = IPAddress(text) else {
                    throw ConfigurationError("\(path): a VirtualAppliance route needs nextHopIpAddress, an IP address")
                }
                nextHop = address.description
            }
            let state = route["provisioningState"] as? String
            // The route table is named in the route's id: .../routeTables/TABLE/routes/ROUTE.
            let tableName = table ?? (route["id"] as? String).flatMap { id in
                let parts = id.split(separator: "/")
                return parts.firstIndex(of: "routeTables").flatMap { $0 + 1 < parts.count ? String(parts[$0 + 1]) : nil }
            }
            result.append(VPCRouteEntry(destination: destination, nextHopID: nextHop, nextHopType: type, table: tableName, name: name,
                                        unfinishedState: state.flatMap { $0 == "Succeeded" ? nil : $0 },
                                        namedNode: name.map { name in name.components(separatedBy: "____")[0] }))
        }
        return result
    }

    /// GCP routes. The cluster's own carry the `k8s-node-route` description; their network is the cluster's.
    private static func gcp(_ routes: [Any], at base: String) throws(ConfigurationError) -> [VPCRouteEntry] {
        var parsed: [(entry: VPCRouteEntry, kubernetes: Bool)] = []
        for (index, route) in routes.enumerated() {
            let path = base.isEmpty ? "[\(index)]" : "\(base)[\(index)]"
            guard let route = route as? [String: Any] else { throw ConfigurationError("\(path) is not an object") }
            let destination = try prefix(route["destRange"], at: path)
            let name = route["name"] as? String
            var nextHop: String? = nil
            var type = "gateway"
            if let instance = route["nextHopInstance"] as? String {
                // .../zones/ZONE/instances/NAME: the instance name, which is the node name on GCE.
                let parts = instance.split(separator: "/")
                guard parts.count >= 2, parts[parts.count - 2] == "instances" else {
                    throw ConfigurationError("\(path): nextHopInstance '\(instance)' does not end in instances/NAME")
                }
                nextHop = String(parts[parts.count - 1])
                type = "instance"
            } else if let ip = route["nextHopIp"] as? String {
                guard let address = IPAddress(ip) else { throw ConfigurationError("\(path): nextHopIp '\(ip)' is not an IP address") }
                nextHop = address.description
                type = "ip"
            } else if let gateway = route["nextHopGateway"] as? String {
                type = String(gateway.split(separator: "/").last ?? "gateway")
            } else if route["nextHopNetwork"] != nil || route["nextHopPeering"] != nil {
                type = route["nextHopPeering"] != nil ? "peering" : "subnet"
            } else if route["nextHopIlb"] != nil || route["nextHopVpnTunnel"] != nil {
                type = route["nextHopIlb"] != nil ? "ilb" : "vpn"
            }
            let kubernetes = (route["description"] as? String) == "k8s-node-route"
            // kubernetes-UID (the cloud provider) or gke-CLUSTER-HASH-UID (GKE): the UID is the last five groups.
            let uid = name.flatMap { name -> String? in
                let groups = name.split(separator: "-")
                guard groups.count >= 6 else { return nil }
                let tail = groups.suffix(5).joined(separator: "-")
                let lengths = groups.suffix(5).map(\.count)
                return lengths == [8, 4, 4, 4, 12] ? tail : nil
            }
            // The routes quota counts static routes; subnet and peering routes are the network's own.
            let entry = VPCRouteEntry(destination: destination, nextHopID: nextHop, nextHopType: type, table: route["network"] as? String,
                                      name: name, namedNodeUID: uid, countsAgainstLimit: type != "subnet" && type != "peering")
            parsed.append((entry, kubernetes))
        }
        // Which network is the cluster's is decided against the cluster map (VPCRouteDiff): a project may hold
        // the routes of several clusters in several networks.
        return parsed.map { item in
            var entry = item.entry
            entry.clusterManaged = item.kubernetes
            return entry
        }
    }
}
