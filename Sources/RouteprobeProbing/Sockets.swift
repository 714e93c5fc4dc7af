// Socket plumbing shared by the probers: owned descriptors, socket addresses, the monotonic clock.
// Unsafe pointer use is confined to turning addresses into sockaddr structures for the kernel.
import RouteprobeCore
import RouteprobeNetlink
#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor with exactly one owner, closed in deinit.
final class OwnedDescriptor {
    let fd: Int32
    init(_ fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}

/// Opens a socket, inside `namespace` when given.
func openSocket(family: AddressFamily, type: Int32, protocol proto: Int32, name: String,
                namespace: NetworkNamespace?) throws(ProbeError) -> OwnedDescriptor {
    let domain = family == .inet ? AF_INET : AF_INET6
    let make = { () -> Result<Int32, SystemCallError> in
        do throws(SystemCallError) {
            return .success(try checkedSystemCall(name) { socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), proto) })
        } catch {
            return .failure(error)
        }
    }
    let outcome: Result<Int32, SystemCallError>
    if let namespace {
        do throws(NetlinkError) { outcome = try namespace.runInside(make) } catch { throw ProbeError.namespace(error.description) }
    } else {
        outcome = make()
    }
    switch outcome {
    case .success(let fd): return OwnedDescriptor(fd)
    case .failure(let error): throw ProbeError(error)
    }
}

/// Sets an integer socket option.
func setOption(_ fd: Int32, _ level: Int32, _ option: Int32, _ value: Int32, name: String) throws(ProbeError) {
    var value = value
    do throws(SystemCallError) {
        try checkedSystemCall("setsockopt(\(name))") { setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) }
    } catch {
        throw ProbeError(error)
    }
}

/// Calls `body` with `address` (and `port`) as a sockaddr the kernel understands.
func withSocketAddress<T>(_ address: IPAddress, port: UInt16 = 0, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
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
func address(from storage: sockaddr_storage) -> IPAddress? {
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
func readUInt16(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt16? {
    let index = bytes.startIndex + offset
    guard offset >= 0, index + 1 < bytes.endIndex else { return nil }
    return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
}

/// The Internet checksum (RFC 1071) of `bytes`.
func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
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
