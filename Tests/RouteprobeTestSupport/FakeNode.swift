import Foundation
import RouteprobeCapture
import RouteprobeCore
import RouteprobeProbing
import Synchronization

/// One node of the lab as the probing seams see it, without a kernel: its links, addresses and routes,
/// what each probe would get back, and what a capture on its uplink would see. The addresses are
/// DESIGN.md's: node-a 192.168.0.193, node-b 192.168.0.50 (172.16.1.0/24), node-c 192.168.0.60
/// (172.16.2.0/24), node-d 192.168.0.61 (172.16.3.0/24), the VPC router 192.168.0.253.
public final class FakeNode: Sendable {
    /// The lab's cluster map.
    public static let cluster = ClusterMap(probePort: 9700, nodes: [
        .init(name: "node-a", ip: IPAddress("192.168.0.193")!, podCIDRs: [IPPrefix("172.16.0.0/24")!], podTargets: [IPAddress("172.16.0.12")!]),
        .init(name: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!], podTargets: [IPAddress("172.16.1.12")!]),
        .init(name: "node-c", ip: IPAddress("192.168.0.60")!, podCIDRs: [IPPrefix("172.16.2.0/24")!], podTargets: [IPAddress("172.16.2.12")!]),
        .init(name: "node-d", ip: IPAddress("192.168.0.61")!, podCIDRs: [IPPrefix("172.16.3.0/24")!], podTargets: [IPAddress("172.16.3.12")!]),
    ])
    public static let vpcRouter = IPAddress("192.168.0.253")!
    public static let uplinkMAC = HardwareAddress("02:00:00:00:00:01")!
    public static let routerMAC = HardwareAddress("02:00:00:00:00:fe")!

    /// How the kernel routes a destination, and what a probe of it gets.
    public struct Path: Sendable {
        public var route: Result<Route, RouteLookupFailure>
        public var outcome: ProbeOutcome
        public var icmpError: ICMPErrorReport?
        /// Whether a capture sees the requests leave on the uplink.
        public var requestsLeave: Bool

        public init(route: Result<Route, RouteLookupFailure>, outcome: ProbeOutcome, icmpError: ICMPErrorReport? = nil, requestsLeave: Bool = true) {
            self.route = route
            self.outcome = outcome
            self.icmpError = icmpError
            self.requestsLeave = requestsLeave
        }
    }

    /// This node's name and host IP.
    public let name: String
    public let ip: IPAddress
    private let state: Mutex<(paths: [IPAddress: Path], table: [Route], echoIdentifier: UInt16, probed: [ProbeSpec])>

    /// A node of the lab whose every path goes through the VPC router and answers.
    public init(_ name: String) {
        self.name = name
        ip = FakeNode.cluster.node(named: name)!.ip
        state = Mutex(([:], [], 0, []))
    }

    /// The default route via the VPC router, as a lookup answers it.
    public static func viaVPC(_ target: IPAddress) -> Route {
        Route(family: .inet, destinationAddress: target, destinationLength: 32, gateway: vpcRouter, outputInterface: 2,
              preferredSource: IPAddress("192.168.0.193"))
    }

    /// A host-gw route via `gateway`.
    public static func direct(_ target: IPAddress, via gateway: IPAddress) -> Route {
        Route(family: .inet, destinationAddress: target, destinationLength: 32, gateway: gateway, outputInterface: 2)
    }

    /// Sets what happens on the way to `target`.
    public func set(_ target: IPAddress, _ path: Path) { state.withLock { $0.paths[target] = path } }

    /// Sets the main table the kernel-route check reads.
    public func setTable(_ routes: [Route]) { state.withLock { $0.table = routes } }

    /// The specs probed since the last capture started.
    public var probed: [ProbeSpec] { state.withLock { $0.probed } }

    fileprivate func path(to target: IPAddress) -> Path {
        state.withLock { $0.paths[target] } ?? Path(route: .success(FakeNode.viaVPC(target)), outcome: .reply)
    }

    /// The seams of one check on this node.
    public var environment: CheckEnvironment {
        CheckEnvironment(
            openRoutes: { () throws(ProbeError) -> any RouteLookup in FakeRoutes(node: self) },
            probers: { identifier in
                self.state.withLock { $0.echoIdentifier = identifier }
                var registry = ProberRegistry()
                registry.register(FakeProber(node: self, probeProtocol: .icmp))
                registry.register(FakeProber(node: self, probeProtocol: .tcp))
                return registry
            },
            capture: FakeCaptureOpener(node: self), evidence: nil)
    }

    fileprivate func record(_ specs: [ProbeSpec]) { state.withLock { $0.probed += specs } }

    fileprivate func clearProbed() { state.withLock { $0.probed = [] } }

    fileprivate var routes: [Route] { state.withLock { $0.table } }

    /// The frames a capture on the uplink sees for `specs`: the requests that leave (Ethernet, from this
    /// node's MAC to the router's), and the answers that come back.
    fileprivate func frames(for specs: [ProbeSpec]) -> [CapturedPacket] {
        let identifier = state.withLock { $0.echoIdentifier }
        var frames: [CapturedPacket] = []
        for spec in specs {
            let path = path(to: spec.target)
            guard path.requestsLeave, case .success = path.route else { continue }
            let payload: [UInt8]
            let number: UInt8
            switch spec.probeProtocol {
            case .icmp:
                payload = ICMPMessage.echoRequest(family: .inet, identifier: identifier, sequence: 0)
                number = 1
            case .tcp:
                payload = TCPSegment.synBytes(from: ip, port: 40000, to: spec.target, port: spec.port ?? 0, sequence: 1)
                number = 6
            }
            frames.append(FakeNode.ethernet(from: FakeNode.uplinkMAC, to: FakeNode.routerMAC,
                                            ipv4(from: ip, to: spec.target, protocolNumber: number, payload: payload)))
        }
        return frames
    }

    /// An Ethernet frame carrying an IPv4 packet.
    public static func ethernet(from source: HardwareAddress, to destination: HardwareAddress, _ packet: [UInt8]) -> CapturedPacket {
        func bytes(_ address: HardwareAddress) -> [UInt8] { (0..<6).map { UInt8((address.value >> UInt64(40 - 8 * $0)) & 0xff) } }
        let frame = bytes(destination) + bytes(source) + [0x08, 0x00] + packet
        return CapturedPacket(seconds: 0, microseconds: 0, linkType: LinkType.ethernet, interface: "eth0",
                              originalLength: frame.count, bytes: frame)
    }
}

/// An IPv4 packet (a 20-byte header without options).
public func ipv4(from source: IPAddress, to destination: IPAddress, protocolNumber: UInt8, payload: [UInt8]) -> [UInt8] {
    let length = 20 + payload.count
    return [0x45, 0, UInt8(length >> 8), UInt8(length & 0xff), 0, 0, 0x40, 0, 64, protocolNumber, 0, 0]
        + source.bytes + destination.bytes + payload
}

private final class FakeRoutes: RouteLookup {
    let node: FakeNode
    init(node: FakeNode) { self.node = node }

    func links() throws(ProbeError) -> [Link] {
        [Link(index: 1, name: "lo", hardwareType: 772, flags: 1),
         Link(index: 2, name: "eth0", flags: 1, hardwareAddress: [2, 0, 0, 0, 0, 1])]
    }

    func localAddresses() throws(ProbeError) -> [IPAddress] { [IPAddress("127.0.0.1")!, node.ip] }

    func routes(to targets: [IPAddress]) throws(ProbeError) -> [Result<Route, RouteLookupFailure>] { targets.map { node.path(to: $0).route } }

    func routes() throws(ProbeError) -> [Route] { node.routes }
}

private struct FakeProber: Prober {
    let node: FakeNode
    let probeProtocol: ProbeProtocol

    func probe(_ specs: [ProbeSpec], options: ProbeOptions) throws(ProbeError) -> [ProbeResult] {
        node.record(specs)
        return specs.map { spec in
            let path = node.path(to: spec.target)
            if case .failure(let failure) = path.route {
                return ProbeResult(spec: spec, outcome: .localError, sent: 0, localErrno: failure.errno)
            }
            let answered = path.outcome != .timeout && path.outcome != .localError
            return ProbeResult(spec: spec, outcome: path.outcome, rttNanoseconds: answered ? 400_000 : nil, sent: options.count,
                               received: answered ? options.count : 0, icmpError: path.icmpError)
        }
    }
}

private struct FakeCaptureOpener: FlowCaptureOpener {
    let node: FakeNode

    func start(devices: [String], filter: String) throws(ProbeError) -> any FlowCapture {
        node.clearProbed()
        return FakeCapture(node: node)
    }
}

private final class FakeCapture: FlowCapture {
    let node: FakeNode
    init(node: FakeNode) { self.node = node }

    func stop() -> (packets: [CapturedPacket], problems: [CaptureProblem]) {
        let specs = node.probed
        return (node.frames(for: specs), [])
    }
}
