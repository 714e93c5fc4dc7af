// The beacon: a TCP responder for pod networks that accepts a connection and closes it at once.
import RouteprobeCore
import RouteprobeSystem
#if canImport(Glibc)
import Glibc
#endif

/// A listening socket that accepts and closes every connection, so that every pod CIDR has a known target.
public final class Beacon: Sendable {
    private let listener: OwnedDescriptor
    /// The port it listens on.
    public let port: UInt16

    /// Listens on `port` on every IPv4 and IPv6 address (a dual-stack socket), in `namespace` when given.
    public init(port: UInt16, namespace: NetworkNamespace? = nil) throws(ProbeError) {
        do throws(SystemError) {
            let socket = try OwnedDescriptor.socket(.inet6, .stream, nonBlocking: true, in: namespace)
            try socket.set(.reuseAddress, 1)
            try socket.set(.ipv6Only, 0)
            try socket.bind(to: .ip(.v6(0, 0), port: port))
            try socket.listen(backlog: 4096)
            listener = socket
        } catch {
            if error.errno == EADDRINUSE { throw ProbeError.invalid("port \(port) is already in use") }
            throw ProbeError(error)
        }
        self.port = port
    }

    /// Accepts and closes connections until `shouldStop` returns true (checked at least every 200 ms).
    public func serve(until shouldStop: () -> Bool) throws(ProbeError) {
        var poller = PollSet([listener.fd])
        while !shouldStop() {
            let ready = try probing { () throws(SystemError) in try poller.wait(milliseconds: 200) }
            if ready == 0 { continue }
            while true {
                do throws(SystemError) {
                    // Closed at once when the accepted descriptor goes out of scope.
                    guard try listener.accept() != nil else { break }
                } catch {
                    // Out of descriptors: the backlog keeps the connections until some close.
                    if error.errno == EMFILE || error.errno == ENFILE || error.errno == EINTR { break }
                    throw ProbeError(error)
                }
            }
        }
    }
}
