// Sending RFC 5424 messages: Unix datagram, UDP (RFC 5426, one message per datagram) and TCP (RFC 6587
// octet counting), reconnecting when the collector comes back, rate-limited, and telling its owner once
// when delivery starts or stops failing.
import RouteprobeCore
import RouteprobeNetlink
#if canImport(Glibc)
import Glibc
#endif

/// Sends syslog messages to one destination. Not thread-safe: one owner sends.
public final class SyslogSender {
    /// The destination.
    public let destination: SyslogDestination
    private var socket: OwnedDescriptor?
    private var limiter: RateLimiter
    private var failing = false
    /// Called once when delivery starts failing (with the reason) and once when it works again (nil).
    public var onDeliveryChange: ((String?) -> Void)?

    private let namespace: NetworkNamespace?

    /// Builds a sender; nothing is opened until the first message. UDP and TCP sockets are created in
    /// `namespace` when given.
    public init(destination: SyslogDestination, namespace: NetworkNamespace? = nil, burst: Int = 20, perSecond: Double = 2) {
        self.destination = destination
        self.namespace = namespace
        limiter = RateLimiter(burst: burst, perSecond: perSecond)
    }

    /// Sends a message (after a note of how many were suppressed by the rate limit, if any). Returns
    /// whether it was delivered to the socket; failures never throw, they are reported once.
    @discardableResult
    public func send(_ message: SyslogMessage) -> Bool {
        guard limiter.allow(at: monotonicNanoseconds()) else { return false }
        let suppressed = limiter.takeSuppressed()
        if suppressed > 0 {
            var note = message
            note.severity = .warning
            note.messageID = "rateLimited"
            note.structuredDataID = nil
            note.parameters = []
            note.message = "\(suppressed) routeprobe messages were suppressed by the rate limit"
            _ = deliver(note.formatted())
        }
        return deliver(message.formatted())
    }

    private func deliver(_ text: String) -> Bool {
        for attempt in 0..<2 {
            do throws(SystemCallError) {
                let fd = try connectedSocket()
                var bytes = Array(text.utf8)
                if case .tcp = destination { bytes = Array("\(bytes.count) ".utf8) + bytes }
                try sendAll(fd, bytes)
                if failing {
                    failing = false
                    onDeliveryChange?(nil)
                }
                return true
            } catch {
                socket = nil // reconnect on the next attempt
                if attempt == 1 {
                    if !failing {
                        failing = true
                        onDeliveryChange?("syslog to \(destination) fails: \(error)")
                    }
                }
            }
        }
        return false
    }

    private func connectedSocket() throws(SystemCallError) -> Int32 {
        if let socket { return socket.fd }
        let (domain, type): (Int32, Int32)
        switch destination {
        case .unix: (domain, type) = (AF_UNIX, Int32(SOCK_DGRAM.rawValue))
        case .udp(let address, _): (domain, type) = (address.family == .inet ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue))
        case .tcp(let address, _): (domain, type) = (address.family == .inet ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue))
        }
        let open = { () -> Result<Int32, SystemCallError> in
            do throws(SystemCallError) {
                return .success(try checkedSystemCall("socket(\(self.destination))") { Glibc.socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), 0) })
            } catch {
                return .failure(error)
            }
        }
        let opened: Result<Int32, SystemCallError>
        do throws(NetlinkError) { opened = try NetworkNamespace.run(in: namespace, open) } catch {
            throw SystemCallError(call: "setns(\(namespace.map(\.description) ?? "-"))", errno: error.errno ?? EINVAL)
        }
        let fd = try opened.get()
        let owned = OwnedDescriptor(fd)
        let result: Int32
        switch destination {
        case .unix(let path):
            guard let connected = withUnixSocketAddress(path, { connect(fd, $0, $1) }) else {
                throw SystemCallError(call: "connect(\(path)): path too long", errno: ENAMETOOLONG)
            }
            result = connected
        case .udp(let address, let port), .tcp(let address, let port):
            result = withSocketAddress(address, port: port) { connect(fd, $0, $1) }
        }
        if result != 0 { throw SystemCallError(call: "connect(\(destination))", errno: errno) }
        socket = owned
        return fd
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemCallError) {
        try RouteprobeNetlink.sendAll(fd, bytes, name: "send(\(destination))")
    }
}
