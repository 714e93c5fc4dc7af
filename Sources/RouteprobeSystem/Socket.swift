// Sockets: opened in a network namespace when asked, every call checked (EINTR retried, errno named).
// The raw socket plumbing of routeprobe lives here and in SocketAddress.swift, SocketFilter.swift and
// ICMPErrorQueue.swift; the probing, alerting and agent targets call these functions.
import RouteprobeCore
#if canImport(Glibc)
import Glibc
#endif

/// The kind of socket to open.
public enum SocketType: Sendable, Hashable {
    /// A byte stream (TCP, or a Unix stream socket).
    case stream
    /// Datagrams (UDP, or a Unix datagram socket).
    case datagram
    /// A raw IP socket for one protocol (needs CAP_NET_RAW).
    case raw(IPProtocolNumber)
}

/// The socket's address family: IPv4, IPv6 or Unix domain.
public enum SocketFamily: Sendable, Hashable {
    case inet, inet6, unix

    /// The IP family of an address.
    public init(_ family: AddressFamily) { self = family == .inet ? .inet : .inet6 }

    var domain: Int32 {
        switch self {
        case .inet: return AF_INET
        case .inet6: return AF_INET6
        case .unix: return AF_UNIX
        }
    }

    var name: String {
        switch self {
        case .inet: return "AF_INET"
        case .inet6: return "AF_INET6"
        case .unix: return "AF_UNIX"
        }
    }
}

/// Socket options routeprobe sets, each with the C names in its documentation.
public enum SocketOption: Sendable {
    /// SOL_SOCKET SO_RCVBUF: the receive buffer in bytes.
    case receiveBuffer
    /// SOL_SOCKET SO_REUSEADDR: bind a listening port again at once after a restart.
    case reuseAddress
    /// IPPROTO_IPV6 IPV6_V6ONLY: 0 lets an IPv6 socket accept IPv4 too.
    case ipv6Only
    /// SOL_IP IP_RECVERR / SOL_IPV6 IPV6_RECVERR: queue ICMP errors on the socket's error queue.
    case receiveErrors(AddressFamily)

    var levelAndName: (level: Int32, option: Int32, name: String) {
        switch self {
        case .receiveBuffer: return (SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF")
        case .reuseAddress: return (SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR")
        case .ipv6Only: return (Int32(IPPROTO_IPV6), IPV6_V6ONLY, "IPV6_V6ONLY")
        case .receiveErrors(.inet): return (SOL_IP, 11 /* IP_RECVERR */, "IP_RECVERR")
        case .receiveErrors(.inet6): return (SOL_IPV6, 25 /* IPV6_RECVERR */, "IPV6_RECVERR")
        }
    }
}

extension OwnedDescriptor {
    /// Opens a socket (close-on-exec, `nonBlocking` when asked), inside `namespace` when given: the one way
    /// routeprobe opens a socket in another network namespace.
    package static func socket(_ family: SocketFamily, _ type: SocketType, nonBlocking: Bool = false,
                               in namespace: NetworkNamespace? = nil) throws(SystemError) -> OwnedDescriptor {
        let (kind, proto, typeName): (Int32, Int32, String)
        switch type {
        case .stream: (kind, proto, typeName) = (Int32(SOCK_STREAM.rawValue), 0, "SOCK_STREAM")
        case .datagram: (kind, proto, typeName) = (Int32(SOCK_DGRAM.rawValue), 0, "SOCK_DGRAM")
        case .raw(let number): (kind, proto, typeName) = (Int32(SOCK_RAW.rawValue), Int32(number.rawValue), "SOCK_RAW, \(number.name)")
        }
        let flags = Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        let domain = family.domain
        let opened = try NetworkNamespace.run(in: namespace) { () -> (fd: Int32, errno: Int32) in
            let fd = Glibc.socket(domain, kind | flags, proto)
            return (fd, fd < 0 ? errno : 0)
        }
        guard opened.fd >= 0 else { throw SystemError.systemCall(call: "socket(\(family.name), \(typeName))", errno: opened.errno) }
        return OwnedDescriptor(opened.fd)
    }

    /// Connects to `address`. A non-blocking socket throws EINPROGRESS while the connection is under way.
    package func connect(to address: SocketAddress) throws(SystemError) {
        let fd = self.fd
        // connect is not restarted after EINTR: the connection goes on, and a second call would say EALREADY.
        guard let result = address.withSockaddr({ Glibc.connect(fd, $0, $1) }) else {
            throw SystemError.systemCall(call: "connect(\(address)): path too long", errno: ENAMETOOLONG)
        }
        if result != 0 { throw SystemError.systemCall(call: "connect(\(address))", errno: errno) }
    }

    /// Dissolves a datagram socket's association (connect with AF_UNSPEC): the next connect picks its source
    /// address afresh instead of keeping the one the last connect gave it.
    package func disconnect() {
        var unspecified = sockaddr()
        unspecified.sa_family = sa_family_t(AF_UNSPEC)
        _ = Glibc.connect(fd, &unspecified, socklen_t(MemoryLayout<sockaddr>.size))
    }

    /// Binds to `address`.
    package func bind(to address: SocketAddress) throws(SystemError) {
        let fd = self.fd
        guard let result = address.withSockaddr({ Glibc.bind(fd, $0, $1) }) else {
            throw SystemError.systemCall(call: "bind(\(address)): path too long", errno: ENAMETOOLONG)
        }
        if result != 0 { throw SystemError.systemCall(call: "bind(\(address))", errno: errno) }
    }

    /// Starts listening for connections.
    package func listen(backlog: Int32) throws(SystemError) {
        let fd = self.fd
        try systemCall("listen") { Glibc.listen(fd, backlog) }
    }

    /// Accepts a waiting connection; nil when none is waiting (a non-blocking socket) or it was aborted.
    package func accept() throws(SystemError) -> OwnedDescriptor? {
        let fd = self.fd
        do throws(SystemError) {
            // accept4(2) is declared only under _GNU_SOURCE: accept, then close-on-exec.
            let connection = OwnedDescriptor(try systemCall("accept") { Glibc.accept(fd, nil, nil) })
            try connection.setCloseOnExec()
            return connection
        } catch {
            if error.errno == EAGAIN || error.errno == ECONNABORTED { return nil }
            throw error
        }
    }

    /// Sends one datagram (or raw packet) to `address` without waiting: a full queue throws EAGAIN or ENOBUFS.
    @inlinable
    package func send(_ bytes: [UInt8], to address: SocketAddress) throws(SystemError) {
        try sendDatagram(bytes, to: address)
    }

    @usableFromInline
    func sendDatagram(_ bytes: [UInt8], to address: SocketAddress) throws(SystemError) {
        let fd = self.fd
        try systemCall("sendto(\(address))") {
            bytes.withUnsafeBytes { raw in
                address.withSockaddr { sendto(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, $1) } ?? -1
            }
        }
    }

    /// Receives one datagram without waiting: its length and sender, or nil when nothing is queued.
    package func receive(into buffer: inout [UInt8]) throws(SystemError) -> (length: Int, sender: SocketAddress?)? {
        let fd = self.fd
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let received: Int
        do throws(SystemError) {
            received = try systemCall("recvfrom") {
                buffer.withUnsafeMutableBytes { raw in
                    withUnsafeMutablePointer(to: &storage) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            recvfrom(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, &length)
                        }
                    }
                }
            }
        } catch {
            if error.errno == EAGAIN { return nil }
            throw error
        }
        return (received, SocketAddress(storage))
    }

    /// The address and port the socket is bound to (getsockname).
    package func localAddress() throws(SystemError) -> SocketAddress {
        let fd = self.fd
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try systemCall("getsockname") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
        }
        guard let address = SocketAddress(storage) else { throw SystemError.systemCall(call: "getsockname", errno: EAFNOSUPPORT) }
        return address
    }

    /// Sets an integer socket option.
    package func set(_ option: SocketOption, _ value: Int32) throws(SystemError) {
        let (level, name, text) = option.levelAndName
        try setRaw(level: level, option: name, name: text, bytes: withUnsafeBytes(of: value) { Array($0) })
    }

    /// Sets a socket option whose value is raw bytes (filters and the like).
    package func setRaw(level: Int32, option: Int32, name: String, bytes: [UInt8]) throws(SystemError) {
        let fd = self.fd
        try systemCall("setsockopt(\(name))") {
            bytes.withUnsafeBytes { setsockopt(fd, level, option, $0.baseAddress, socklen_t($0.count)) }
        }
    }

    /// Closes with a RST rather than a FIN (SO_LINGER with a zero timeout): no TIME_WAIT left behind.
    package func resetOnClose() throws(SystemError) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        let fd = self.fd
        try systemCall("setsockopt(SO_LINGER)") {
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
    }

    /// Makes blocking receives give up after `seconds` (SO_RCVTIMEO).
    package func setReceiveTimeout(seconds: Int) throws(SystemError) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        let fd = self.fd
        try systemCall("setsockopt(SO_RCVTIMEO)") {
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    /// The socket's pending error (SO_ERROR), cleared by reading it: 0 after a connect that succeeded.
    package func pendingError() throws(SystemError) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        let fd = self.fd
        try systemCall("getsockopt(SO_ERROR)") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) }
        return error
    }

    /// Writes all of `bytes` to a connected socket (MSG_NOSIGNAL: a closed peer is an error, not a signal).
    package func sendAll(_ bytes: [UInt8], name: String) throws(SystemError) {
        var offset = 0
        let fd = self.fd
        while offset < bytes.count {
            let start = offset
            offset += try systemCall(name) {
                bytes.withUnsafeBytes { raw in Glibc.send(fd, raw.baseAddress! + start, raw.count - start, Int32(MSG_NOSIGNAL)) }
            }
        }
    }

    /// Reads what is available on a connected socket, at most `limit` bytes; empty at the end of the stream.
    package func receiveSome(limit: Int) throws(SystemError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: limit)
        let fd = self.fd
        let received = try systemCall("recv") { buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } }
        return Array(buffer[0..<received])
    }

    /// A listening TCP socket on `address` (SO_REUSEADDR), inside `namespace` when given.
    package static func listening(on address: IPAddress, port: UInt16, backlog: Int32 = 64,
                                  in namespace: NetworkNamespace? = nil) throws(SystemError) -> OwnedDescriptor {
        let listener = try socket(SocketFamily(address.family), .stream, in: namespace)
        try listener.set(.reuseAddress, 1)
        try listener.bind(to: .ip(address, port: port))
        try listener.listen(backlog: backlog)
        return listener
    }
}
