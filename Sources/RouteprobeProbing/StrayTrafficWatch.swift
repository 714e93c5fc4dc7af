import RouteprobeCapture
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem

/// Watches this node's uplinks for packets addressed to other nodes' pod CIDRs. In a VPC-routed cluster
/// none should arrive: when they do, the VPC route entry for that CIDR points at this node
/// (DESIGN.md: "another node's capture sees the packets for that CIDR arrive"). The BPF filter runs in the
/// kernel and matches only inbound packets for those CIDRs, so a healthy node pays nothing per packet.
public final class StrayTrafficWatch: @unchecked Sendable {
    // @unchecked Sendable: the capture is thread-safe; `cidrs` and `devices` are fixed at init.
    /// The CIDRs watched (other nodes' pod CIDRs).
    public let cidrs: [IPPrefix]
    /// The interfaces watched.
    public let devices: [String]
    private let capture: PacketCapture
    /// This node's MAC addresses: a frame for another MAC (a bridge flooding unknown unicast) is not stray.
    private let localMACs: Set<HardwareAddress>

    /// Starts watching `cidrs` on the interfaces the kernel uses to reach `peers` (the other nodes' host
    /// IPs), in `namespace` when given.
    public init(cidrs: [IPPrefix], peers: [IPAddress], namespace: NetworkNamespace?) throws(ProbeError) {
        guard !cidrs.isEmpty else { throw ProbeError.capture("no pod CIDRs to watch") }
        var devices = Set<String>()
        var macs = Set<HardwareAddress>()
        do throws(NetlinkError) {
            let socket = try RoutingSocket(namespace: namespace)
            let links = try socket.links()
            macs.formUnion(links.compactMap(\.macAddress))
            let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
            for peer in peers {
                if let index = (try? socket.lookup(peer))?.outputInterface, let name = names[index] { devices.insert(name) }
            }
        } catch {
            throw ProbeError.routing(error.description)
        }
        guard !devices.isEmpty else { throw ProbeError.capture("no interface reaches the other nodes") }
        self.cidrs = cidrs
        self.devices = devices.sorted()
        localMACs = macs
        let filter = "inbound and (" + cidrs.map { "dst net \($0)" }.joined(separator: " or ") + ")"
        do throws(CaptureError) {
            capture = try PacketCapture(devices: self.devices, filter: filter, namespace: namespace, limit: 10_000)
        } catch {
            throw ProbeError.capture(error.description)
        }
        do throws(CaptureError) { try capture.start() } catch { throw ProbeError.capture(error.description) }
    }

    /// Packets that arrived since the last call, per CIDR.
    public func collect() -> [StrayTraffic] {
        let (packets, dropped) = capture.drain()
        var counts: [IPPrefix: (packets: Int, interface: String, source: IPAddress?)] = [:]
        for packet in packets {
            guard let dissected = try? PacketDissector.dissect(packet.bytes, linkType: packet.linkType),
                  let cidr = cidrs.first(where: { $0.contains(dissected.destination) }) else { continue }
            if let destination = dissected.destinationHardwareAddress, !localMACs.isEmpty, !localMACs.contains(destination) { continue }
            var entry = counts[cidr] ?? (0, packet.interface, dissected.source)
            entry.packets += 1
            counts[cidr] = entry
        }
        // Packets beyond the buffer limit are counted towards the busiest CIDR: they matched the same filter.
        if dropped > 0, let busiest = counts.max(by: { $0.value.packets < $1.value.packets })?.key { counts[busiest]?.packets += dropped }
        return counts.sorted { $0.key.description < $1.key.description }.map { cidr, entry in
            StrayTraffic(cidr: cidr, packets: entry.packets, interface: entry.interface, sampleSource: entry.source)
        }
    }

    /// Interfaces the capture could not open.
    public var problems: [CaptureProblem] { capture.problems }

    /// Stops the capture.
    public func stop() { _ = capture.stop() }
}
