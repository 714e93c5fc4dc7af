/// Where syslog messages go: `local` (/dev/log), `unix:PATH`, `udp:HOST:PORT` (RFC 5426) or
/// `tcp:HOST:PORT` (RFC 6587 octet counting).
public enum SyslogDestination: Sendable, Hashable, CustomStringConvertible {
    /// A Unix datagram socket (the local syslog daemon's, /dev/log, by default).
    case unix(path: String)
    /// UDP to a collector.
    case udp(IPAddress, port: UInt16)
    /// TCP to a collector.
    case tcp(IPAddress, port: UInt16)

    /// The local daemon's socket.
    public static let local = SyslogDestination.unix(path: "/dev/log")

    /// Parses `local`, `unix:PATH`, `udp:HOST:PORT` or `tcp:HOST:PORT` (HOST an address; IPv6 in brackets).
    public init?(_ text: String) {
        if text == "local" { self = .local; return }
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/") else { return nil }
            self = .unix(path: path)
            return
        }
        let isUDP = text.hasPrefix("udp:"), isTCP = text.hasPrefix("tcp:")
        guard isUDP || isTCP else { return nil }
        let rest = text.dropFirst(4)
        guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]), port > 0 else { return nil }
        var host = rest[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let address = IPAddress(host) else { return nil }
        self = isUDP ? .udp(address, port: port) : .tcp(address, port: port)
    }

    public var description: String {
        switch self {
        case .unix(let path): return path == "/dev/log" ? "local" : "unix:\(path)"
        case .udp(let address, let port): return address.family == .inet6 ? "udp:[\(address)]:\(port)" : "udp:\(address):\(port)"
        case .tcp(let address, let port): return address.family == .inet6 ? "tcp:[\(address)]:\(port)" : "tcp:\(address):\(port)"
        }
    }
}

/// A token bucket: at most `burst` at once, refilled at `perSecond`. Pure: the caller passes the time.
public struct RateLimiter: Sendable {
    /// The bucket's size and refill rate.
    public let burst: Double
    public let perSecond: Double
    private var tokens: Double
    private var last: UInt64?
    /// How many were refused since the last one allowed.
    public private(set) var suppressed = 0

    /// Builds a full bucket.
    public init(burst: Int, perSecond: Double) {
        self.burst = Double(burst)
        self.perSecond = perSecond
        tokens = Double(burst)
    }

    /// True when one more may go at `nanoseconds` (a monotonic time); otherwise counts it as suppressed.
    public mutating func allow(at nanoseconds: UInt64) -> Bool {
        if let last { tokens = min(burst, tokens + Double(nanoseconds &- last) / 1e9 * perSecond) }
        last = nanoseconds
        if tokens >= 1 {
            tokens -= 1
            return true
        }
        suppressed += 1
        return false
    }

    /// Takes and resets the suppressed count.
    public mutating func takeSuppressed() -> Int {
        defer { suppressed = 0 }
        return suppressed
    }
}
