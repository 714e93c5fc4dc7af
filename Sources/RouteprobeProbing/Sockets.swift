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

