// Socket plumbing shared by the probing and alerting targets: owned descriptors, socket addresses.
// Unsafe pointer use is confined to turning addresses into sockaddr structures for the kernel and back.
import RouteprobeCore
#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor with exactly one owner, closed in deinit.
package final class OwnedDescriptor {
    package let fd: Int32
    package init(_ fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}

/// Calls `body` with `address` (and `port`) as a sockaddr the kernel understands.
package func withSocketAddress<T>(_ address: IPAddress, port: UInt16 = 0, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    switch address {
    case .v4(let value):
        var storage = sockaddr_in()
        storage.sin_family = sa_family_t(AF_INET)
        storage.sin_port = port.bigEndian
        storage.sin_addr.s_addr = value.bigEndian
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    case .v6:
        var storage = sockaddr_in6()
        storage.sin6_family = sa_family_t(AF_INET6)
        storage.sin6_port = port.bigEndian
        let bytes = address.bytes
        withUnsafeMutableBytes(of: &storage.sin6_addr) { raw in
            for index in 0..<16 { raw[index] = bytes[index] }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }
}

/// Reads an IP address out of a sockaddr_storage the kernel filled in.
package func address(from storage: sockaddr_storage) -> IPAddress? {
    var storage = storage
    return withUnsafeBytes(of: &storage) { raw -> IPAddress? in
        let family = raw.load(as: sa_family_t.self)
        if family == sa_family_t(AF_INET) { return IPAddress(bytes: raw[4..<8]) }
        if family == sa_family_t(AF_INET6) { return IPAddress(bytes: raw[8..<24]) }
        return nil
    }
}

/// Big-endian 16-bit read from bytes, nil when out of range.
@inline(__always)
package func readUInt16(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt16? {
    let index = bytes.startIndex + offset
    guard offset >= 0, index + 1 < bytes.endIndex else { return nil }
    return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
}

/// The Internet checksum (RFC 1071) of `bytes`.
package func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var index = 0
    while index + 1 < bytes.count {
        sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
        index += 2
    }
    if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}

/// Calls `body` with a Unix-domain socket address for `path` (nil when the path is too long).
package func withUnixSocketAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T? {
    var storage = sockaddr_un()
    storage.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: storage.sun_path)
    guard bytes.count < capacity else { return nil }
    withUnsafeMutableBytes(of: &storage.sun_path) { raw in
        for (index, byte) in bytes.enumerated() { raw[index] = byte }
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

/// Reads a socket's error queue (IP_RECVERR / IPV6_RECVERR): the ICMP error that ended a connection
/// attempt, with the address of the router or host that sent it.
package func queuedICMPError(_ fd: Int32) -> ICMPErrorReport? {
    var data = [UInt8](repeating: 0, count: 64)
    var control = [UInt8](repeating: 0, count: 512)
    var offender: ICMPErrorReport? = nil
    data.withUnsafeMutableBytes { dataBytes in
        control.withUnsafeMutableBytes { controlBytes in
            var vector = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
            withUnsafeMutablePointer(to: &vector) { vectorPointer in
                var message = msghdr()
                message.msg_iov = vectorPointer
                message.msg_iovlen = 1
                message.msg_control = controlBytes.baseAddress
                message.msg_controllen = controlBytes.count
                guard recvmsg(fd, &message, Int32(MSG_ERRQUEUE) | Int32(MSG_DONTWAIT)) >= 0 else { return }
                // Walk the control messages by hand: CMSG_* are macros Swift cannot import.
                var offset = 0
                let total = Int(message.msg_controllen)
                let headerSize = MemoryLayout<cmsghdr>.size
                while offset + headerSize <= total {
                    let header = controlBytes.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self)
                    let length = Int(header.cmsg_len)
                    guard length >= headerSize, offset + length <= total else { return }
                    let isIPv4 = header.cmsg_level == SOL_IP && header.cmsg_type == 11
                    let isIPv6 = header.cmsg_level == SOL_IPV6 && header.cmsg_type == 25
                    if isIPv4 || isIPv6 {
                        // struct sock_extended_err (16 bytes), then the offender's sockaddr.
                        let payload = offset + ((headerSize + 7) & ~7)
                        guard payload + 16 <= offset + length else { return }
                        let origin = controlBytes[payload + 4]
                        let type = controlBytes[payload + 5], code = controlBytes[payload + 6]
                        guard origin == 2 || origin == 3 else { return } // SO_EE_ORIGIN_ICMP / ICMP6
                        let addressStart = payload + 16
                        var storage = sockaddr_storage()
                        let available = min(MemoryLayout<sockaddr_storage>.size, offset + length - addressStart)
                        withUnsafeMutableBytes(of: &storage) { raw in
                            for index in 0..<available { raw[index] = controlBytes[addressStart + index] }
                        }
                        if let from = address(from: storage) {
                            offender = ICMPErrorReport(from: from, type: type, code: code, isICMPv6: origin == 3)
                        }
                        return
                    }
                    offset += (length + 7) & ~7
                }
            }
        }
    }
    return offender
}


/// Sends a datagram to `address`; 0 or the errno.
package func sendDatagram(_ fd: Int32, _ bytes: [UInt8], to address: IPAddress) -> Int32 {
    let sent = bytes.withUnsafeBytes { raw in
        withSocketAddress(address) { sendto(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, $1) }
    }
    return sent < 0 ? errno : 0
}

/// Receives one datagram without waiting: its length and sender, or nil when nothing is there.
package func receiveDatagram(_ fd: Int32, into buffer: inout [UInt8]) -> (length: Int, sender: IPAddress?)? {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let received = buffer.withUnsafeMutableBytes { raw in
        withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, &length) }
        }
    }
    guard received > 0 else { return nil }
    return (received, address(from: storage))
}

/// Starts a connection; 0 when connected at once, else the errno (EINPROGRESS for a non-blocking socket).
package func startConnect(_ fd: Int32, to address: IPAddress, port: UInt16) -> Int32 {
    withSocketAddress(address, port: port) { connect(fd, $0, $1) } == 0 ? 0 : errno
}

/// Binds a socket to `address` and `port`; 0 or the errno.
package func bindSocket(_ fd: Int32, to address: IPAddress, port: UInt16) -> Int32 {
    withSocketAddress(address, port: port) { bind(fd, $0, $1) } == 0 ? 0 : errno
}

/// Dissolves a datagram socket's association (connect with AF_UNSPEC): the next connect picks its source
/// address afresh instead of keeping the one the last connect gave it.
package func disconnectDatagramSocket(_ fd: Int32) {
    var unspecified = sockaddr()
    unspecified.sa_family = sa_family_t(AF_UNSPEC)
    _ = connect(fd, &unspecified, socklen_t(MemoryLayout<sockaddr>.size))
}

/// The address and port a socket is bound to (getsockname), nil on failure.
package func boundAddress(of fd: Int32) -> (address: IPAddress, port: UInt16)? {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let status = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard status == 0, let address = address(from: storage) else { return nil }
    // sin_port and sin6_port sit at the same offset, in network byte order.
    let port = withUnsafeBytes(of: &storage) { UInt16($0[2]) << 8 | UInt16($0[3]) }
    return (address, port)
}

/// One classic BPF instruction (struct sock_filter).
package struct SocketFilterInstruction: Sendable {
    package var code: UInt16
    package var jumpIfTrue: UInt8
    package var jumpIfFalse: UInt8
    package var constant: UInt32

    package init(_ code: UInt16, _ jumpIfTrue: UInt8 = 0, _ jumpIfFalse: UInt8 = 0, _ constant: UInt32) {
        self.code = code
        self.jumpIfTrue = jumpIfTrue
        self.jumpIfFalse = jumpIfFalse
        self.constant = constant
    }
}

/// Attaches a classic BPF program to a socket (SO_ATTACH_FILTER): the kernel drops what it rejects before
/// it is queued. 0 or the errno.
package func attachSocketFilter(_ fd: Int32, _ program: [SocketFilterInstruction]) -> Int32 {
    // struct sock_filter is 8 bytes: code, jt, jf, k in host byte order.
    var instructions = [UInt8]()
    instructions.reserveCapacity(program.count * 8)
    for instruction in program {
        withUnsafeBytes(of: instruction.code) { instructions += $0 }
        instructions += [instruction.jumpIfTrue, instruction.jumpIfFalse]
        withUnsafeBytes(of: instruction.constant) { instructions += $0 }
    }
    return instructions.withUnsafeBytes { filter in
        // struct sock_fprog: an unsigned short length, padding, then the pointer at offset 8.
        var header = [UInt8](repeating: 0, count: 16)
        header.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt16(program.count), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: filter.baseAddress, toByteOffset: 8, as: UnsafeRawPointer?.self)
        }
        return header.withUnsafeBytes { setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, $0.baseAddress, socklen_t($0.count)) } == 0 ? 0 : errno
    }
}

/// Sets a socket option whose value is raw bytes (filters and the like); 0 or the errno.
package func setSocketOption(_ fd: Int32, level: Int32, option: Int32, bytes: [UInt8]) -> Int32 {
    bytes.withUnsafeBytes { setsockopt(fd, level, option, $0.baseAddress, socklen_t($0.count)) } == 0 ? 0 : errno
}

/// Writes all of `bytes` to a file descriptor (standard output, a pipe); throws on the first failure.
package func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemCallError) {
    var offset = 0
    while offset < bytes.count {
        let start = offset
        offset += try checkedSystemCall("write") {
            bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress! + start, raw.count - start) }
        }
    }
}

/// Writes all of `bytes` to a connected socket (MSG_NOSIGNAL: a closed peer is an error, not a signal).
package func sendAll(_ fd: Int32, _ bytes: [UInt8], name: String) throws(SystemCallError) {
    var offset = 0
    while offset < bytes.count {
        let start = offset
        offset += try checkedSystemCall(name) {
            bytes.withUnsafeBytes { raw in send(fd, raw.baseAddress! + start, raw.count - start, Int32(MSG_NOSIGNAL)) }
        }
    }
}

/// Every address a host name resolves to with the system resolver (getaddrinfo: /etc/hosts, then DNS).
package func resolveHostAddresses(_ name: String) -> [IPAddress] {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>? = nil
    guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
    defer { freeaddrinfo(list) }
    var found: [IPAddress] = []
    var cursor: UnsafeMutablePointer<addrinfo>? = first
    while let entry = cursor {
        if let raw = entry.pointee.ai_addr {
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { target in
                let length = min(Int(entry.pointee.ai_addrlen), target.count)
                target.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: length))
            }
            if let address = address(from: storage) { found.append(address) }
        }
        cursor = entry.pointee.ai_next
    }
    return found
}

/// A listening TCP socket on `address` and `port` (SO_REUSEADDR), inside `namespace` when given.
package func makeListeningSocket(address: IPAddress, port: UInt16, namespace: NetworkNamespace?) throws(SystemCallError) -> OwnedDescriptor {
    let open = { () -> Result<Int32, SystemCallError> in
        do throws(SystemCallError) {
            return .success(try checkedSystemCall("socket(SOCK_STREAM)") {
                Glibc.socket(address.family == .inet ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            })
        } catch {
            return .failure(error)
        }
    }
    let opened: Result<Int32, SystemCallError>
    do throws(NetlinkError) { opened = try NetworkNamespace.run(in: namespace, open) } catch {
        throw SystemCallError(call: "setns(\(namespace.map(\.description) ?? "-"))", errno: error.errno ?? EINVAL)
    }
    let listener = OwnedDescriptor(try opened.get())
    var one: Int32 = 1
    setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    let bound = bindSocket(listener.fd, to: address, port: port)
    if bound != 0 { throw SystemCallError(call: "bind(\(address) port \(port))", errno: bound) }
    try checkedSystemCall("listen") { listen(listener.fd, 64) }
    return listener
}

/// Reads what is available on a connected socket, at most `limit` bytes; empty at end of stream or error.
package func receiveSome(_ fd: Int32, limit: Int) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: limit)
    let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    return received > 0 ? Array(buffer[0..<received]) : []
}
