// The beacon: a TCP responder for pod networks that accepts a connection and closes it at once.
import RouteprobeCore
import RouteprobeNetlink
#if canImport(Glibc)
import Glibc
#endif

/// A listening socket that accepts and closes every connection, so that every pod CIDR has a known target.
public final class Beacon: @unchecked Sendable {
    // @unchecked Sendable: the descriptor is only read after init; closing happens once, in deinit.
    private let listener: OwnedDescriptor
    /// The port it listens on.
    public let port: UInt16

    /// Listens on `port` on every IPv4 and IPv6 address (a dual-stack socket), in `namespace` when given.
    public init(port: UInt16, namespace: NetworkNamespace? = nil) throws(ProbeError) {
        listener = try openSocket(family: .inet6, type: Int32(SOCK_STREAM.rawValue), protocol: 0,
                                  name: "socket(AF_INET6, SOCK_STREAM)", namespace: namespace)
        try setOption(listener.fd, SOL_SOCKET, SO_REUSEADDR, 1, name: "SO_REUSEADDR")
        try setOption(listener.fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0, name: "IPV6_V6ONLY")
        let fd = listener.fd
        let code = bindSocket(fd, to: .v6(0, 0), port: port)
        if code != 0 {
            if code == EADDRINUSE { throw ProbeError.invalid("port \(port) is already in use") }
            throw ProbeError.system(call: "bind(port \(port))", errno: code)
        }
        do throws(SystemCallError) {
            try checkedSystemCall("listen") { listen(fd, 4096) }
        } catch {
            throw ProbeError(error)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.port = port
    }

    /// Accepts and closes connections until `shouldStop` returns true (checked at least every 200 ms).
    public func serve(until shouldStop: () -> Bool) throws(ProbeError) {
        var descriptor = pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)
        while !shouldStop() {
            descriptor.revents = 0
            let ready = poll(&descriptor, 1, 200)
            if ready < 0 {
                if errno == EINTR { continue }
                throw ProbeError.system(call: "poll", errno: errno)
            }
            if ready == 0 { continue }
            while true {
                let connection = accept(listener.fd, nil, nil)
                if connection < 0 {
                    let code = errno
                    if code == EAGAIN || code == EINTR || code == ECONNABORTED { break }
                    if code == EMFILE || code == ENFILE { break }
                    throw ProbeError.system(call: "accept", errno: code)
                }
                close(connection)
                var nonblocking = descriptor
                nonblocking.revents = 0
                if poll(&nonblocking, 1, 0) <= 0 { break }
            }
        }
    }
}
