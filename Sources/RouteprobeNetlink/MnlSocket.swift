// The only place that holds a libmnl socket pointer: it owns it and closes it in deinit.
internal import CMnl
import RouteprobeSystem
#if canImport(Glibc)
import Glibc
#endif

/// An rtnetlink socket opened through libmnl, optionally inside another network namespace, optionally
/// subscribed to multicast groups.
package final class MnlSocket: NetlinkTransport, @unchecked Sendable {
    // @unchecked Sendable: the pointer is used by one thread at a time (the owner's dump or the monitor's
    // reader thread) and freed only in deinit.
    private let socket: OpaquePointer
    /// The socket's port id.
    package let portID: UInt32

    /// Opens `NETLINK_ROUTE`, binds it to `groups` and enables extended acknowledgements.
    /// - Parameter namespace: create the socket inside this network namespace (it stays bound to it).
    package init(groups: UInt32 = 0, namespace: NetworkNamespace? = nil) throws(NetlinkError) {
        // errno is per thread: the thread that opened the socket (in the namespace) reads it.
        let opened = try netlinkSystem { () throws(SystemError) in
            try NetworkNamespace.run(in: namespace) { () -> (socket: OpaquePointer?, errno: Int32) in
                let socket = mnl_socket_open(NETLINK_ROUTE)
                return (socket, socket == nil ? errno : 0)
            }
        }
        guard let socket = opened.socket else {
            throw NetlinkError.systemCall(call: "socket(AF_NETLINK, NETLINK_ROUTE)", errno: opened.errno)
        }
        do {
            try netlinkCall("bind(AF_NETLINK)") { mnl_socket_bind(socket, groups, pid_t(routeprobe_mnl_autopid())) }
            var enable: Int32 = 1
            // Extended acks give the kernel's own sentence for an error; older kernels lack it, which is fine.
            _ = mnl_socket_setsockopt(socket, NL.optionExtendedAck, &enable, socklen_t(MemoryLayout<Int32>.size))
        } catch {
            mnl_socket_close(socket)
            throw error
        }
        self.socket = socket
        self.portID = mnl_socket_get_portid(socket)
    }

    deinit {
        mnl_socket_close(socket)
    }

    /// The file descriptor, for poll(2).
    package var fileDescriptor: Int32 { mnl_socket_get_fd(socket) }

    package func send(_ message: [UInt8]) throws(NetlinkError) {
        let socket = self.socket
        try message.withPrefix(message.count) { (raw) throws(NetlinkError) in
            let sent = try netlinkCall("sendto(netlink)") { mnl_socket_sendto(socket, raw.baseAddress, raw.count) }
            guard sent == raw.count else { throw NetlinkError.systemCall(call: "sendto(netlink)", errno: EMSGSIZE) }
        }
    }

    package func receive(into buffer: inout [UInt8]) throws(NetlinkError) -> Int {
        let socket = self.socket
        var received = 0
        var failure: NetlinkError? = nil
        buffer.withUnsafeMutableBytes { raw in
            do throws(NetlinkError) {
                received = try netlinkCall("recvfrom") { mnl_socket_recvfrom(socket, raw.baseAddress, raw.count) }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return received
    }

    /// Sets the socket's receive buffer size; `force` (root only) passes the system limit, as SO_RCVBUFFORCE.
    package func setReceiveBufferSize(_ bytes: Int32, force: Bool = false) throws(NetlinkError) {
        var size = bytes
        let fd = fileDescriptor
        try netlinkCall(force ? "setsockopt(SO_RCVBUFFORCE)" : "setsockopt(SO_RCVBUF)") {
            setsockopt(fd, SOL_SOCKET, force ? SO_RCVBUFFORCE : SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
    }

}
