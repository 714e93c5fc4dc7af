// The one helper every system call in routeprobe goes through: errno is read at once, EINTR is retried,
// and a failure becomes a SystemCallError naming the call. The netlink, probing and capture targets all use it.
import RouteprobeCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: which one and its errno.
package struct SystemCallError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The call, as people know it (`socket(AF_INET, SOCK_RAW)`, `sendto`, ...).
    package let call: String
    /// The errno it set.
    package let errno: Int32

    package init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    package var description: String { "\(call) failed: \(ErrnoName.message(errno)) (\(ErrnoName.symbol(errno)))" }
}

/// Runs `body` until it returns something other than -1 with EINTR; throws on -1 with the errno.
@discardableResult
package func checkedSystemCall<Result: BinaryInteger>(_ name: String, retryOnInterrupt: Bool = true,
                                                      _ body: () -> Result) throws(SystemCallError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR, retryOnInterrupt { continue }
        throw SystemCallError(call: name, errno: code)
    }
}

/// `checkedSystemCall` for the netlink target, whose functions throw NetlinkError.
@discardableResult
func systemCall<Result: BinaryInteger>(_ name: String, retryOnInterrupt: Bool = true, _ body: () -> Result) throws(NetlinkError) -> Result {
    do {
        return try checkedSystemCall(name, retryOnInterrupt: retryOnInterrupt, body)
    } catch {
        throw NetlinkError.systemCall(call: error.call, errno: error.errno)
    }
}

/// Runs a libmnl call that returns a pointer, throwing with errno when it returns nil.
func systemCall<Pointer>(_ name: String, _ body: () -> Pointer?) throws(NetlinkError) -> Pointer {
    if let pointer = body() { return pointer }
    throw NetlinkError.systemCall(call: name, errno: errno)
}

/// The monotonic clock in nanoseconds.
package func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
