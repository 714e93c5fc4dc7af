// The one helper every system call in routeprobe goes through: errno is read at once, EINTR is retried, and
// a failure becomes a SystemError naming the call and the errno.
import RouteprobeCore
#if canImport(Glibc)
import Glibc
#endif

/// Why the operating system refused: a failed system call, or a network namespace that cannot be entered.
public enum SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed; `call` names it as people know it (`socket(AF_INET, SOCK_RAW)`, `sendto`, ...).
    case systemCall(call: String, errno: Int32)
    /// The network namespace at `path` does not exist or cannot be entered.
    case namespace(path: String, errno: Int32)

    /// The errno behind the failure.
    public var errno: Int32 {
        switch self {
        case .systemCall(_, let errno), .namespace(_, let errno): return errno
        }
    }

    public var description: String {
        switch self {
        case .systemCall(let call, let errno):
            return "\(call) failed: \(ErrnoName.message(errno)) (\(ErrnoName.symbol(errno)))"
        case .namespace(let path, let errno):
            var text = "cannot enter network namespace \(path): \(ErrnoName.message(errno)) (\(ErrnoName.symbol(errno)))"
            if errno == ENOENT { text += "; `ip netns list` shows the names that exist" }
            if errno == EPERM { text += "; this needs root or CAP_SYS_ADMIN" }
            return text
        }
    }

    /// True when the call was refused for lack of a privilege (EPERM, EACCES).
    public var isPermissionDenied: Bool { errno == EPERM || errno == EACCES }
}

/// Runs `body` until it returns something other than -1 with EINTR; throws on -1 with the errno.
@discardableResult
@inlinable
package func systemCall<Result: BinaryInteger>(_ name: @autoclosure () -> String, retryOnInterrupt: Bool = true,
                                               _ body: () -> Result) throws(SystemError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR, retryOnInterrupt { continue }
        throw SystemError.systemCall(call: name(), errno: code)
    }
}

/// The errno of the last failed call on this thread.
package var lastErrno: Int32 { Glibc.errno }
