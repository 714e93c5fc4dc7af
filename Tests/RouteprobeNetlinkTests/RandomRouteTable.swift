import Foundation
import RouteprobeTestSupport
import RouteprobeCore

/// Builds a reproducible random routing table in a namespace: several tables, IPv4 and IPv6, multipath,
/// blackhole/unreachable/prohibit/throw, metrics, preferred sources, protocols and path metrics.
struct RandomRouteTable {
    var generator: SplitMix64
    let tables = ["main", "100", "200", "300"]

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func pick<T>(_ choices: [T]) -> T { choices[Int(generator.next() % UInt64(choices.count))] }
    mutating func chance(_ percent: UInt64) -> Bool { generator.next() % 100 < percent }

    /// The links and addresses the routes use: three veth pairs with IPv4 and IPv6 subnets.
    static func setUp(in namespace: String) throws {
        for index in 0..<3 {
            try ip("-n", namespace, "link", "add", "v\(index)", "type", "veth", "peer", "name", "p\(index)")
            try ip("-n", namespace, "link", "set", "v\(index)", "up")
            try ip("-n", namespace, "link", "set", "p\(index)", "up")
            try ip("-n", namespace, "addr", "add", "10.\(index).0.1/24", "dev", "v\(index)")
            try ip("-n", namespace, "addr", "add", "fd00:\(index)::1/64", "dev", "v\(index)", "nodad")
        }
    }

    /// `ip -batch` lines for `count` random routes (some may collide; `ip -force` skips those).
    mutating func batch(count: Int) -> String {
        var lines: [String] = []
        for _ in 0..<count {
            let inet6 = chance(30)
            let table = pick(tables)
            let length = inet6 ? Int(generator.next() % 81) + 48 : Int(generator.next() % 25) + 8
            let destination: String
            if inet6 {
                let address = IPAddress.v6(0x2001_0db8_0000_0000 | (generator.next() & 0xffff_ffff), generator.next())
                destination = IPPrefix(address: address, length: length)!.description
            } else {
                let base: UInt32 = chance(70) ? 0xac10_0000 : 0x0a00_0000 // 172.16.0.0/12 or 10.0.0.0/12
                let address = IPAddress.v4(base | UInt32(truncatingIfNeeded: generator.next() & 0x000f_ffff))
                destination = IPPrefix(address: address, length: length)!.description
            }
            let subnet = Int(generator.next() % 3)
            let gateway = inet6 ? "fd00:\(subnet)::\(Int(generator.next() % 200) + 2)" : "10.\(subnet).0.\(Int(generator.next() % 200) + 2)"
            // Options before any "nexthop": ip's parser takes nothing after the next hops.
            var options: [String] = []
            if chance(50) { options += ["metric", String(Int(generator.next() % 2000))] }
            if table != "main" { options += ["table", table] }
            var words = ["route", "add"]
            let kind = generator.next() % 10
            switch kind {
            case 0: words += ["blackhole", destination] + options
            case 1: words += ["unreachable", destination] + options
            case 2: words += ["prohibit", destination] + options
            case 3: words += [inet6 ? "blackhole" : "throw", destination] + options
            case 4, 5:
                words += [destination] + options
                let hops = Int(generator.next() % 3) + 2
                for _ in 0..<hops {
                    let hopSubnet = Int(generator.next() % 3)
                    let hopGateway = inet6 ? "fd00:\(hopSubnet)::\(Int(generator.next() % 200) + 2)" : "10.\(hopSubnet).0.\(Int(generator.next() % 200) + 2)"
                    words += ["nexthop", "via", hopGateway, "weight", String(Int(generator.next() % 255) + 1)]
                }
            case 6:
                words += [destination, "dev", "v\(subnet)", "scope", "link"] + options
            default:
                words += [destination, "via", gateway] + options
                if chance(40) { words += ["src", inet6 ? "fd00:\(subnet)::1" : "10.\(subnet).0.1"] }
                if chance(30) { words += ["mtu", String(1200 + Int(generator.next() % 300)), "advmss", String(1000 + Int(generator.next() % 200))] }
                if chance(20) { words += ["proto", pick(["static", "bird", "bgp", "77"])] }
                if inet6, chance(30) { words += ["pref", pick(["low", "medium", "high"])] }
            }
            lines.append(words.joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
