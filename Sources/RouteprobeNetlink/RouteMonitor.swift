// The route monitor: a socket subscribed to the route multicast groups, read on a dedicated thread that
// blocks in poll(2) so that stopping never waits for a route change.
import RouteprobeCore
import RouteprobeSystem
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
    private let waker: WakePipe
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
        waker = try netlinkSystem { () throws(SystemError) in try WakePipe() }
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
        do throws(SystemError) { try SystemThread.detached { self.readLoop(continuation) } } catch {
            continuation.finish(throwing: NetlinkError(error))
        }
        return stream
    }

    /// Stops the reader thread; the event stream finishes.
    public func stop() { waker.wake() }

    /// Reads until stopped. Runs on the reader thread.
    private func readLoop(_ continuation: AsyncThrowingStream<RouteEvent, any Error>.Continuation) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var poller = PollSet([socket.fileDescriptor, waker.readEnd.fd])
        while true {
            do throws(SystemError) { try poller.wait(milliseconds: -1) } catch {
                continuation.finish(throwing: NetlinkError(error))
                return
            }
            if poller.isReady(1) {
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
