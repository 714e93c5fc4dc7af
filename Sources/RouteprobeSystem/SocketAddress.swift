// Socket addresses as values. The sockaddr structures the kernel takes and fills in are built and read
// here and in Socket.swift only; nothing unsafe leaves this target.
import RouteprobeCore
#if canImport(Glibc)
import Glibc
#endif

/// Where a socket connects, binds or sends: an IP address and port, or a Unix-domain socket path.
public enum SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 address and a port (0 for raw sockets and "any port").
    case ip(IPAddress, port: UInt16)
    /// A Unix-domain socket's path.
    case unix(path: String)

    /// The IP address, for IP socket addresses.
    public var ipAddress: IPAddress? {
        if case .ip(let address, _) = self { return address }
        return nil
    }

    /// The port, for IP socket addresses.
    public var port: UInt16? {
        if case .ip(_, let port) = self { return port }
        return nil
    }

    public var description: String {
        switch self {
        case .ip(let address, let port): return address.family == .inet6 ? "[\(address)]:\(port)" : "\(address):\(port)"
        case .unix(let path): return path
        }
    }

    /// Calls `body` with the address as a sockaddr the kernel understands; nil when a Unix path is too long.
    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T? {
        switch self {
        case .ip(.v4(let value), let port):
            var storage = sockaddr_in()
            storage.sin_family = sa_family_t(AF_INET)
            storage.sin_port = port.bigEndian
            storage.sin_addr.s_addr = value.bigEndian
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .ip(let address, let port):
            var storage = sockaddr_in6()
            storage.sin6_family = sa_family_t(AF_INET6)
            storage.sin6_port = port.bigEndian
            let bytes = address.bytes
            withUnsafeMutableBytes(of: &storage.sin6_addr) { raw in
                for index in 0..<16 { raw[index] = bytes[index] }
            }
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        case .unix(let path):
            var storage = sockaddr_un()
            storage.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: storage.sun_path) else { return nil }
            withUnsafeMutableBytes(of: &storage.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
                raw[bytes.count] = 0
            }
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
    }

    /// Reads an IP socket address out of a sockaddr_storage the kernel filled in; nil for other families.
    init?(_ storage: sockaddr_storage) {
        var storage = storage
        let decoded = withUnsafeBytes(of: &storage) { raw -> SocketAddress? in
            let family = raw.load(as: sa_family_t.self)
            // sin_port and sin6_port sit at the same offset, in network byte order.
            let port = UInt16(raw[2]) << 8 | UInt16(raw[3])
            if family == sa_family_t(AF_INET), let address = IPAddress(bytes: raw[4..<8]) { return .ip(address, port: port) }
            if family == sa_family_t(AF_INET6), let address = IPAddress(bytes: raw[8..<24]) { return .ip(address, port: port) }
            return nil
        }
        guard let decoded else { return nil }
        self = decoded
    }
}
