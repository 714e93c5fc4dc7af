// The system layer's checked call, for the netlink target, whose functions throw NetlinkError.
import RouteprobeSystem
#if canImport(Glibc)
import Glibc
#endif

extension NetlinkError {
    /// The system layer's error as a netlink error.
    init(_ error: SystemError) {
        switch error {
        case .systemCall(let call, let errno): self = .systemCall(call: call, errno: errno)
        case .namespace(let path, let errno): self = .namespace(name: path, errno: errno)
        }
    }
}

/// Runs a system call through the system layer's checked helper (errno read at once, EINTR retried).
@discardableResult
func netlinkCall<Result: BinaryInteger>(_ name: String, retryOnInterrupt: Bool = true, _ body: () -> Result) throws(NetlinkError) -> Result {
    do throws(SystemError) {
        return try RouteprobeSystem.systemCall(name, retryOnInterrupt: retryOnInterrupt, body)
    } catch {
        throw NetlinkError(error)
    }
}

/// Runs a libmnl call that returns a pointer, throwing with errno when it returns nil.
func netlinkCall<Pointer>(_ name: String, _ body: () -> Pointer?) throws(NetlinkError) -> Pointer {
    if let pointer = body() { return pointer }
    throw NetlinkError.systemCall(call: name, errno: errno)
}

/// Runs a system-layer operation, turning its failure into a NetlinkError.
func netlinkSystem<T>(_ body: () throws(SystemError) -> T) throws(NetlinkError) -> T {
    do throws(SystemError) { return try body() } catch { throw NetlinkError(error) }
}
