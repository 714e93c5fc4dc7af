// The route monitor: a socket subscribed to the route multicast groups, read on a dedicated thread that
// blocks in poll(2) so that stopping never waits for a route change.
import RouteprobeCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Watches the kernel routing table and delivers changes as an AsyncSequence of `RouteEvent`s.
///
/// The subscription starts when the monitor is created, so changes made after `init` returns are never
/// missed, even before anyone iterates `events()`. When the kernel drops notifications because the socket
/// overflowed (ENOBUFS), the monitor dumps the table again and delivers `.resync` with the whole table.
public final class RouteMonitor: Sendable {
    private let socket: MnlSocket
    private let namespace: NetworkNamespace?
    private let families: Set<AddressFamily>
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let started = Mutex(false)

    /// Subscribes to route changes of `families` (default both), in `namespace` when given.
    /// - Parameter receiveBufferSize: the socket's receive buffer in bytes (root may exceed the system
    ///   limit); a small one overflows sooner, which tests use to provoke a resync.
    public init(families: Set<AddressFamily> = [.inet, .inet6], namespace: NetworkNamespace? = nil,
                receiveBufferSize: Int32? = nil) throws(NetlinkError) {
        var groups: UInt32 = 0
        if families.contains(.inet) { groups |= NL.groupIPv4Route }
        if families.contains(.inet6) { groups |= NL.groupIPv6Route }
        socket = try MnlSocket(groups: groups, namespace: namespace)
        if let receiveBufferSize { try socket.setReceiveBufferSize(receiveBufferSize, force: getuid() == 0) }
        self.namespace = namespace
        self.families = families
        var fds: [Int32] = [0, 0]
        try systemCall("pipe") { pipe(&fds) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// The stream of route events. It can be taken once; it ends when `stop()` is called or the consumer
    /// goes away, and finishes with an error when the socket fails.
    public func events() -> AsyncThrowingStream<RouteEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<RouteEvent, any Error>.makeStream(bufferingPolicy: .unbounded)
        let alreadyStarted = started.withLock { started in
            defer { started = true }
            return started
        }
        if alreadyStarted {
            continuation.finish(throwing: NetlinkError.malformed("a route monitor's events can be taken only once"))
            return stream
        }
        continuation.onTermination = { [weak self] _ in self?.stop() }
        switch startThread({ self.readLoop(continuation) }) {
        case .success(let thread): pthread_detach(thread)
        case .failure(let error): continuation.finish(throwing: error)
        }
        return stream
    }

    /// Stops the reader thread; the event stream finishes.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// Reads until stopped. Runs on the reader thread.
    private func readLoop(_ continuation: AsyncThrowingStream<RouteEvent, any Error>.Continuation) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var descriptors = [pollfd(fd: socket.fileDescriptor, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            descriptors[0].revents = 0
            descriptors[1].revents = 0
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                continuation.finish(throwing: NetlinkError.systemCall(call: "poll", errno: errno))
                return
            }
            if descriptors[1].revents != 0 {
                continuation.finish()
                return
            }
            do throws(NetlinkError) {
                let length = try socket.receive(into: &buffer)
                let events = try buffer.withPrefix(length) { (datagram) throws(NetlinkError) in
                    try RouteMonitor.decodeEvents(datagram, families: families)
                }
                for event in events { continuation.yield(event) }
            } catch let error where error.errno == ENOBUFS {
                do throws(NetlinkError) {
                    continuation.yield(.resync(try resync()))
                } catch {
                    continuation.finish(throwing: error)
                    return
                }
            } catch {
                continuation.finish(throwing: error)
                return
            }
        }
    }

    /// Dumps the table again on a separate socket, so the dump's replies never mix with notifications.
    private func resync() throws(NetlinkError) -> [Route] {
        let dumper = try RoutingSocket(namespace: namespace)
        return try dumper.routes().filter { families.contains($0.family) }
    }

    /// Turns one datagram of notifications into events (exposed for decoding tests).
    package static func decodeEvents(_ datagram: UnsafeRawBufferPointer, families: Set<AddressFamily>) throws(NetlinkError) -> [RouteEvent] {
        var events: [RouteEvent] = []
        try forEachMessage(in: datagram) { (message) throws(NetlinkError) in
            guard message.type == NL.newRoute || message.type == NL.deleteRoute else { return }
            guard let route = try decodeRoute(message.payload), families.contains(route.family) else { return }
            // Cache entries (RTM_F_CLONED, IPv6 exceptions) are not table changes.
            if route.flags.contains(.cloned) { return }
            events.append(message.type == NL.newRoute ? .added(route) : .deleted(route))
        }
        return events
    }

    /// Decodes notification bytes held in an array (for tests and tools).
    package static func decodeEvents(_ datagram: [UInt8], families: Set<AddressFamily> = [.inet, .inet6]) throws(NetlinkError) -> [RouteEvent] {
        try datagram.withPrefix(datagram.count) { (raw) throws(NetlinkError) in try decodeEvents(raw, families: families) }
    }
}
