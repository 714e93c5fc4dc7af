// Host names to addresses with the system resolver (getaddrinfo: /etc/hosts, then DNS).
import RouteprobeCore
#if canImport(Glibc)
import Glibc
#endif

/// Resolves host names with the system resolver.
public enum HostResolver {
    /// Every address `name` resolves to; empty when it does not resolve.
    public static func addresses(of name: String) -> [IPAddress] {
        guard !name.isEmpty, name.utf8.count < 254 else { return [] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(list) }
        var found: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let raw = entry.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    let length = min(Int(entry.pointee.ai_addrlen), target.count)
                    target.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: length))
                }
                if let address = SocketAddress(storage)?.ipAddress { found.append(address) }
            }
            cursor = entry.pointee.ai_next
        }
        return found
    }

    /// The first address `name` resolves to, preferring IPv4; nil when it does not resolve.
    public static func resolve(_ name: String) -> IPAddress? {
        let found = addresses(of: name)
        return found.first { $0.family == .inet } ?? found.first
    }
}
