// Sending RFC 5424 messages: Unix datagram, UDP (RFC 5426, one message per datagram) and TCP (RFC 6587
// octet counting), reconnecting when the collector comes back, rate-limited, and telling its owner once
// when delivery starts or stops failing.
import RouteprobeCore
import RouteprobeSystem
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
        guard limiter.allow(at: MonotonicClock.nanoseconds()) else { return false }
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
            do throws(SystemError) {
                let socket = try connectedSocket()
                var bytes = Array(text.utf8)
                if case .tcp = destination { bytes = Array("\(bytes.count) ".utf8) + bytes }
                try socket.sendAll(bytes, name: "send(\(destination))")
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

    private func connectedSocket() throws(SystemError) -> OwnedDescriptor {
        if let socket { return socket }
        let opened: OwnedDescriptor
        switch destination {
        case .unix(let path):
            opened = try OwnedDescriptor.socket(.unix, .datagram, in: namespace)
            try opened.connect(to: .unix(path: path))
        case .udp(let address, let port):
            opened = try OwnedDescriptor.socket(SocketFamily(address.family), .datagram, in: namespace)
            try opened.connect(to: .ip(address, port: port))
        case .tcp(let address, let port):
            opened = try OwnedDescriptor.socket(SocketFamily(address.family), .stream, in: namespace)
            try opened.connect(to: .ip(address, port: port))
        }
        socket = opened
        return opened
    }
}
