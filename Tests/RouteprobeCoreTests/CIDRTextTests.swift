import Foundation
import Testing
import RouteprobeCore

@Suite("CIDRs as people and peers write them: host bits set are refused with the canonical form")
struct CIDRTextTests {
    @Test("problem() names host bits and non-CIDRs; canonical CIDRs have none", arguments: [
        ("172.16.1.7/24", "'172.16.1.7/24' has host bits set: the CIDR is 172.16.1.0/24"),
        ("fd00:172:16:1::5/64", "'fd00:172:16:1::5/64' has host bits set: the CIDR is fd00:172:16:1::/64"),
        ("172.16.1.0", "'172.16.1.0' is not a CIDR such as 172.16.1.0/24"),
        ("172.16.1.0/33", "'172.16.1.0/33' is not a CIDR such as 172.16.1.0/24"),
    ])
    func problems(_ text: String, _ expected: String) {
        #expect(IPPrefix.problem(text) == expected)
    }

    @Test("canonical CIDRs pass")
    func canonical() {
        for text in ["172.16.1.0/24", "0.0.0.0/0", "10.0.0.5/32", "fd00:172:16:1::/64"] { #expect(IPPrefix.problem(text) == nil, "\(text)") }
    }

    @Test("a registration or a cluster-map node with host bits set does not decode, and the error says why")
    func decoding() {
        let json = #"{"schema":2,"node":"node-b","ip":"192.168.0.50","podCIDRs":["172.16.1.7/24"]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(NodeRegistration.self, from: Data(json.utf8)) }
        do {
            _ = try JSONDecoder().decode(NodeRegistration.self, from: Data(json.utf8))
        } catch {
            #expect(DecodingProblem.describe(error).contains("'172.16.1.7/24' has host bits set: the CIDR is 172.16.1.0/24"), "\(DecodingProblem.describe(error))")
        }
    }

    @Test("address-shaped text that is no address is said at once; host names and addresses are not")
    func addressShapes() {
        #expect(IPAddress.shapeProblem("300.1.1.1") == "'300.1.1.1' is not an IPv4 address: four numbers from 0 to 255, separated by dots")
        #expect(IPAddress.shapeProblem("1.2.3") != nil && IPAddress.shapeProblem("fd00::zz") == "'fd00::zz' is not an IPv6 address")
        for fine in ["10.0.0.1", "fd00::1", "node-b", "metrics-server.kube-system.svc", "example.com"] { #expect(IPAddress.shapeProblem(fine) == nil, "\(fine)") }
    }
}

@Suite("Numbers a report cannot hold are named with their place, not called 'not JSON'")
struct ReportNumberTests {
    static func describe(_ json: String) -> String {
        switch WireMessage.report(from: Data(json.utf8)) {
        case .success: return "accepted"
        case .failure(let refusal): return refusal.reason
        }
    }

    static func report(round: String = "5", sent: String = "1", rtt: String = "0.25") -> String {
        #"{"schema":2,"node":"node-a","round":\#(round),"openAfter":2,"results":[{"target":"172.16.1.12","protocol":"tcp","port":9700,"owner":"node-b","cidr":"172.16.1.0/24","routeClass":"vpc","outcome":"reply","verdict":"reachable","rttMs":\#(rtt),"sent":\#(sent),"received":1,"failedRounds":0}],"localFindings":[],"strayTraffic":[]}"#
    }

    @Test("1e400, 2^64 and fractions in whole-number fields; counters past 2^53; a truncated document is still not JSON")
    func numbers() {
        #expect(Self.describe(Self.report()) == "accepted")
        #expect(Self.describe(Self.report(round: "1e400")) == "round: 1e400 is not a whole number from -2^63 to 2^63-1")
        #expect(Self.describe(Self.report(sent: "18446744073709551616")) == "results[0].sent: 18446744073709551616 is not a whole number from -2^63 to 2^63-1")
        #expect(Self.describe(Self.report(sent: "1.5")) == "results[0].sent: 1.5 is not a whole number from -2^63 to 2^63-1", "the fraction, not the legitimate rttMs before it")
        #expect(Self.describe(Self.report(round: "1152921504606846976")) == "report: round 1152921504606846976 is out of range (0 to 9007199254740992)")
        #expect(Self.describe(Self.report(sent: "-1")) == "report: results[0]: sent -1 is out of range (0 to 9007199254740992)")
        #expect(Self.describe(#"{"schema":2,"round":1.5,"#) == "not JSON")
    }

    @Test("Another release's message is named by its schema before its fields are read; registrations are checked too")
    func schemaAndRegistrations() {
        #expect(Self.describe(#"{"schema":1,"node":"node-a","results":"old shape"}"#)
                == "schema 1 is not supported (this aggregator speaks schema 2); run agents of the same release as the aggregator")
        func registration(_ json: String) -> String {
            switch WireMessage.registration(from: Data(json.utf8)) {
            case .success(let value): return "node \(value.node)"
            case .failure(let refusal): return refusal.reason
            }
        }
        #expect(registration(#"{"schema":2,"node":"node-b","ip":"192.168.0.50"}"#) == "node node-b")
        #expect(registration(#"{"schema":2,"node":"node-b","ip":"192.168.0.50","podCIDRs":["172.16.1.7/24"]}"#).hasPrefix("podCIDRs[0]: "))
        #expect(registration(#"{"schema":2,"node":"node-b","ip":"192.168.0.50","intervalMilliseconds":5}"#).hasPrefix("registration: "))
    }
}
