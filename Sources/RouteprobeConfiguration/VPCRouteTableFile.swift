import Foundation
import RouteprobeCore

/// Reads a cloud VPC route table as the cloud's CLI prints it:
/// - AWS `aws ec2 describe-route-tables`: `{"RouteTables": [{"RouteTableId", "Routes": [{"DestinationCidrBlock"
///   | "DestinationIpv6CidrBlock", "InstanceId" | "NetworkInterfaceId" | "GatewayId" ..., "State"}]}]}`;
/// - Alibaba Cloud `DescribeRouteEntryList`: `{"RouteEntrys": {"RouteEntry": [{"DestinationCidrBlock",
///   "RouteTableId", "Status", "NextHops": {"NextHop": [{"NextHopType", "NextHopId"}]}}]}}`, and the route
///   entries nested in `DescribeRouteTables` output (`RouteTables.RouteTable[].RouteEntrys.RouteEntry[]`, whose
///   entries carry `InstanceId` and `NextHopType` directly).
public enum VPCRouteTableFile {
    /// Loads and parses a file (`-` is standard input); the error is one line naming the file and what is wrong.
    public static func load(path: String) throws(ConfigurationError) -> [VPCRouteEntry] {
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
    public static func parse(_ data: Data, source: String) throws(ConfigurationError) -> [VPCRouteEntry] {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigurationError("VPC route table \(source): not JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "parse error"))")
        }
        guard let top = object as? [String: Any] else {
            throw ConfigurationError("VPC route table \(source): expected a JSON object with RouteTables (AWS) or RouteEntrys (Alibaba Cloud)")
        }
        do throws(ConfigurationError) {
            if let tables = top["RouteTables"] as? [Any] { return try aws(tables) }
            if let entries = top["RouteEntrys"] as? [String: Any] { return try alibaba(entries["RouteEntry"], table: nil) }
            if let tables = top["RouteTables"] as? [String: Any] {
                guard let list = tables["RouteTable"] as? [Any] else { throw ConfigurationError("RouteTables.RouteTable is not a list") }
                var result: [VPCRouteEntry] = []
                for (index, table) in list.enumerated() {
                    guard let table = table as? [String: Any] else { throw ConfigurationError("RouteTables.RouteTable[\(index)] is not an object") }
                    result += try alibaba((table["RouteEntrys"] as? [String: Any])?["RouteEntry"], table: table["RouteTableId"] as? String)
                }
                return result
            }
        } catch {
            throw ConfigurationError("VPC route table \(source): \(error.description)")
        }
        throw ConfigurationError("VPC route table \(source): expected RouteTables (aws ec2 describe-route-tables) or RouteEntrys (Alibaba Cloud DescribeRouteEntryList)")
    }

    private static func prefix(_ value: Any?, at path: String) throws(ConfigurationError) -> IPPrefix {
        guard let text = value as? String else { throw ConfigurationError("\(path): destination CIDR missing") }
        guard text.contains("/"), let prefix = IPPrefix(text) else { throw ConfigurationError("\(path): '\(text)' is not a CIDR") }
        return prefix
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
            for hop in hops {
                let isMachine = ["Instance", "NetworkInterface", "HaVip", "Ecs", "EcsInstance"].contains(hop.type)
                result.append(VPCRouteEntry(destination: destination, nextHopID: isMachine ? hop.id : nil,
                                            nextHopType: hop.type, active: active, table: tableID))
            }
        }
        return result
    }
}
