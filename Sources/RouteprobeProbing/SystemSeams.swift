// The real side of the probing seams: netlink for routes, raw sockets for probes, libpcap for capture,
// pcap files for evidence.
import RouteprobeCapture
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem
#if canImport(Glibc)
import Glibc
#endif

extension CheckEnvironment {
    /// The kernel and libpcap, inside `namespace` when given; failing flows' packets go to `captureDirectory`.
    public static func system(namespace: NetworkNamespace?, captureDirectory: String? = nil) -> CheckEnvironment {
        CheckEnvironment(
            openRoutes: { () throws(ProbeError) -> any RouteLookup in try KernelRouteLookup(namespace: namespace) },
            probers: { ProberRegistry.standard(echoIdentifier: $0) },
            capture: LibpcapCaptureOpener(namespace: namespace),
            evidence: captureDirectory.map(PcapEvidenceWriter.init(directory:)))
    }
}

extension ProbeError {
    /// A netlink failure while reading routes.
    init(_ error: NetlinkError) {
        if case .namespace = error { self = .namespace(error.description) } else { self = .routing(error.description) }
    }
}

/// Route lookups over rtnetlink.
public final class KernelRouteLookup: RouteLookup {
    private let socket: RoutingSocket

    /// Opens a routing socket, inside `namespace` when given.
    public init(namespace: NetworkNamespace?) throws(ProbeError) {
        do throws(NetlinkError) { socket = try RoutingSocket(namespace: namespace) } catch { throw ProbeError(error) }
    }

    public func links() throws(ProbeError) -> [Link] {
        do throws(NetlinkError) { return try socket.links() } catch { throw ProbeError(error) }
    }

    public func localAddresses() throws(ProbeError) -> [IPAddress] {
        do throws(NetlinkError) { return try socket.addresses().map(\.address) } catch { throw ProbeError(error) }
    }

    public func routes() throws(ProbeError) -> [Route] {
        do throws(NetlinkError) { return try socket.routes() } catch { throw ProbeError(error) }
    }

    public func routes(to targets: [IPAddress]) throws(ProbeError) -> [Result<Route, RouteLookupFailure>] {
        let answers: [Result<Route, NetlinkError>]
        do throws(NetlinkError) { answers = try socket.lookups(targets) } catch { throw ProbeError(error) }
        var results: [Result<Route, RouteLookupFailure>] = []
        results.reserveCapacity(answers.count)
        for answer in answers {
            switch answer {
            case .success(let route): results.append(.success(route))
            case .failure(let error):
                guard let code = error.errno, case .noRoute = error else { throw ProbeError.routing(error.description) }
                results.append(.failure(RouteLookupFailure(errno: code, text: error.description)))
            }
        }
        return results
    }
}

/// Live libpcap captures.
public struct LibpcapCaptureOpener: FlowCaptureOpener {
    /// Where the interfaces are.
    public var namespace: NetworkNamespace?

    /// Builds an opener.
    public init(namespace: NetworkNamespace?) { self.namespace = namespace }

    public func start(devices: [String], filter: String) throws(ProbeError) -> any FlowCapture {
        do throws(CaptureError) {
            let capture = try PacketCapture(devices: devices, filter: filter, namespace: namespace)
            try capture.start()
            return LiveFlowCapture(capture: capture)
        } catch {
            if case .permission = error { throw ProbeError.missingCapability(error.description) }
            throw ProbeError.capture(error.description)
        }
    }
}

/// A running libpcap capture.
final class LiveFlowCapture: FlowCapture {
    private let capture: PacketCapture

    init(capture: PacketCapture) { self.capture = capture }

    func stop() -> (packets: [CapturedPacket], problems: [CaptureProblem]) {
        // Packet sockets see a frame before the probing socket does, so what answered is in the ring
        // already; a short pause lets the capture thread drain it.
        usleep(5_000)
        let packets = capture.stop()
        return (packets, capture.problems)
    }
}

/// Pcap files in one directory.
public struct PcapEvidenceWriter: EvidenceWriter {
    /// The directory.
    public var directory: String

    /// Writes into `directory`.
    public init(directory: String) { self.directory = directory }

    public func write(_ packets: [CapturedPacket], linkType: Int32, name: String) throws(ProbeError) -> String {
        let path = directory.hasSuffix("/") ? directory + name + ".pcap" : directory + "/" + name + ".pcap"
        do throws(CaptureError) { try PcapFile.write(packets, linkType: linkType, to: path) } catch {
            throw ProbeError.capture(error.description)
        }
        return path
    }
}
