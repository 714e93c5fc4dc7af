import RouteprobeCore
import RouteprobeNetlink
#if canImport(Glibc)
import Glibc
#endif

/// Resolves host names with the system resolver (getaddrinfo: /etc/hosts, then DNS).
public enum HostResolver {
    /// The first address `name` resolves to, preferring IPv4; nil when it does not resolve.
    public static func resolve(_ name: String) -> IPAddress? {
        guard !name.isEmpty, name.count < 254 else { return nil }
        let found = resolveHostAddresses(name)
        return found.first { $0.family == .inet } ?? found.first
    }
}
