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
