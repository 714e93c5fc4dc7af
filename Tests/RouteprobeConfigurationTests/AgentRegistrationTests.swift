import Foundation
import Testing
import RouteprobeConfiguration
import RouteprobeCore

@Suite("The agent's registration on a dual-stack node")
struct AgentRegistrationTests {
    private func resolve(nodeIP: String, podCIDRs: [String] = ["172.16.1.0/24", "fd00:172:16:1::/64"]) throws(ConfigurationError) -> NodeRegistration? {
        let token = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-reg-token-\(getpid())").path
        try? "lab-token-0123456789".write(toFile: token, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: token) }
        var flags = AgentSettings()
        flags.nodeName = "node-b"
        flags.aggregator = "https://192.168.0.253:9800"
        flags.tokenFile = token
        flags.nodeIP = nodeIP
        flags.podCIDRs = podCIDRs
        return try AgentConfiguration.resolve(flags: flags, configPath: nil, environment: [:]).aggregator?.registration
    }

    @Test("--node-ip IPv4,IPv6 registers both; two of one family or three are one clear line")
    func nodeIPs() throws {
        let registration = try #require(try resolve(nodeIP: "192.168.0.50,fd00:192:168::50"))
        #expect(registration.ip == IPAddress("192.168.0.50") && registration.otherIP == IPAddress("fd00:192:168::50"))
        #expect(try resolve(nodeIP: "192.168.0.50")?.otherIP == nil)
        for (bad, expected) in [("192.168.0.50,192.168.0.51", "must be of different families"),
                                ("192.168.0.50,fd00::1,fd00::2", "must be one address, or two (IPv4,IPv6)"),
                                ("192.168.0.50,", "is not an IPv4 or IPv6 address")] {
            #expect { _ = try resolve(nodeIP: bad) } throws: { error in
                (error as? ConfigurationError)?.description.contains(expected) == true
            }
        }
    }

    @Test("--pod-cidr with host bits set is refused with the canonical form")
    func hostBits() {
        #expect { _ = try resolve(nodeIP: "192.168.0.50", podCIDRs: ["172.16.1.7/24"]) } throws: { error in
            (error as? ConfigurationError)?.description == "--pod-cidr '172.16.1.7/24' has host bits set: the CIDR is 172.16.1.0/24"
        }
    }
}
