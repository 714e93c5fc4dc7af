// Opening probe sockets, in another network namespace when asked, with the probing target's errors.
import RouteprobeCore
import RouteprobeNetlink
#if canImport(Glibc)
import Glibc
#endif

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
    do throws(NetlinkError) { outcome = try NetworkNamespace.run(in: namespace, make) } catch {
        throw ProbeError.namespace(error.description)
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


/// Lets only the given ICMP (IPv4) or ICMPv6 message types through to a raw socket (ICMP_FILTER /
/// ICMP6_FILTER): the kernel drops the rest before they are queued.
func allowICMPTypes(_ fd: Int32, family: AddressFamily, _ types: [UInt8]) {
    if family == .inet {
        var blocked = ~types.reduce(UInt32(0)) { $0 | (1 << UInt32($1)) }
        _ = setsockopt(fd, 255 /* SOL_RAW */, 1 /* ICMP_FILTER */, &blocked, socklen_t(4))
    } else {
        // struct icmp6_filter: 256 bits, a set bit blocks the type.
        var filter = [UInt32](repeating: UInt32.max, count: 8)
        for type in types { filter[Int(type) >> 5] &= ~(UInt32(1) << UInt32(type & 31)) }
        let bytes = filter.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word.littleEndian >> UInt32(8 * $0)) } }
        _ = setSocketOption(fd, level: Int32(IPPROTO_ICMPV6), option: 1 /* ICMP6_FILTER */, bytes: bytes)
    }
}
