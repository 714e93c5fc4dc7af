import Foundation
import RouteprobeCapture
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeNetlink

/// What routeprobe reads from outside itself, one harness per reader, each given arbitrary bytes. A harness
/// returns normally on every input (a value or the reader's own error); a crash, a hang or a sanitizer report
/// is a finding. scripts/fuzz.sh runs each under libFuzzer; `routeprobe-fuzz HARNESS FILE...` replays inputs.
enum Harness: String, CaseIterable {
    case netlink, packet, report, registration, clusterMap = "cluster-map", agentConfig = "agent-config", vpcTable = "vpc-table"

    /// Runs one input; the outcome in one line (for replays).
    @discardableResult
    func run(_ bytes: [UInt8]) -> String {
        switch self {
        case .netlink: return NetlinkHarness.run(bytes)
        case .packet: return PacketHarness.run(bytes)
        case .report: return outcome(WireMessage.report(from: Data(bytes)).map { "\($0.results.count) results" })
        case .registration: return outcome(WireMessage.registration(from: Data(bytes)).map { "node \($0.node)" })
        case .clusterMap:
            return outcome { () throws(ConfigurationError) in "\(try ClusterMapFile.parse(text(bytes), source: "input").nodes.count) nodes" }
        case .agentConfig:
            return outcome { () throws(ConfigurationError) in "interval \(String(describing: try AgentSettings.parse(text(bytes), source: "input").interval))" }
        case .vpcTable:
            return outcome { () throws(ConfigurationError) in "\(try VPCRouteTableFile.parse(Data(bytes), source: "input").entries.count) entries" }
        }
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    private func outcome(_ result: Result<String, WireRefusal>) -> String {
        switch result {
        case .success(let value): return "accepted: \(value)"
        case .failure(let refusal): return "refused: \(refusal.reason)"
        }
    }

    private func outcome(_ body: () throws(ConfigurationError) -> String) -> String {
        do { return "accepted: \(try body())" } catch { return "refused: \(error.description)" }
    }
}

/// A netlink answer as the kernel would send it: the input is one datagram, given to every dump and to the
/// route monitor. The dump's sequence number and port id are taken from the input's first header, so that the
/// fuzzer spends its time in the decoders, not in guessing the numbers the socket checks first.
enum NetlinkHarness {
    static func run(_ bytes: [UInt8]) -> String {
        var outcomes: [String] = []
        func field(_ offset: Int) -> UInt32 {
            guard bytes.count >= offset + 4 else { return 0 }
            return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
        }
        func socket() -> RoutingSocket {
            RoutingSocket(transport: OneDatagram(bytes, portID: field(12)), firstSequence: field(8) &- 1)
        }
        func record<T>(_ name: String, _ body: () throws(NetlinkError) -> [T]) {
            do { outcomes.append("\(name) \(try body().count)") } catch { outcomes.append("\(name): \(error)") }
        }
        record("routes") { () throws(NetlinkError) in try socket().routes() }
        record("links") { () throws(NetlinkError) in try socket().links() }
        record("addresses") { () throws(NetlinkError) in try socket().addresses() }
        record("neighbours") { () throws(NetlinkError) in try socket().neighbours() }
        record("rules") { () throws(NetlinkError) in try socket().rules() }
        record("events") { () throws(NetlinkError) in try RouteMonitor.decodeEvents(bytes) }
        return outcomes.joined(separator: "; ")
    }

    /// Answers once with the input, then with nothing (a socket that has no more to say).
    final class OneDatagram: NetlinkTransport {
        let portID: UInt32
        private var datagram: [UInt8]?

        init(_ datagram: [UInt8], portID: UInt32) {
            self.datagram = datagram
            self.portID = portID
        }

        func send(_ message: [UInt8]) throws(NetlinkError) {}

        func receive(into buffer: inout [UInt8]) throws(NetlinkError) -> Int {
            guard let datagram else { return 0 }
            self.datagram = nil
            let count = min(datagram.count, buffer.count)
            buffer.replaceSubrange(0..<count, with: datagram[0..<count])
            return count
        }
    }
}

/// A captured frame: the first byte chooses the link type the capture reported, the rest is the frame.
enum PacketHarness {
    static let linkTypes: [Int32] = [LinkType.ethernet, LinkType.linuxCooked, LinkType.linuxCooked2] + LinkType.raw.sorted() + [0]

    static func run(_ bytes: [UInt8]) -> String {
        guard let first = bytes.first else { return "empty" }
        let linkType = linkTypes[Int(first) % linkTypes.count]
        do {
            return "dissected: \(try PacketDissector.dissect(Array(bytes.dropFirst()), linkType: linkType))"
        } catch {
            return "refused: \(error)"
        }
    }
}
