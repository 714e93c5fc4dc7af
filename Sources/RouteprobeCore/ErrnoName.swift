/// Symbolic names and plain-language text for the errno values this tool meets, without calling libc.
public enum ErrnoName {
    /// The symbolic name (`ENOBUFS`) of a Linux errno value, or `errno N` when unknown.
    public static func symbol(_ code: Int32) -> String {
        table[code]?.symbol ?? "errno \(code)"
    }

    /// The strerror text of a Linux errno value, or `error N` when unknown.
    public static func message(_ code: Int32) -> String {
        table[code]?.message ?? "error \(code)"
    }

    /// Why a kernel route lookup failed, from its errno, in words.
    public static func lookupFailure(_ code: Int32) -> String {
        switch code {
        case 101: return "no route covers it, or an unreachable route does (ENETUNREACH)"
        case 113: return "an unreachable route covers it (EHOSTUNREACH)"
        case 13: return "a prohibit route covers it (EACCES)"
        case 22: return "a blackhole route covers it, or the source address is not local (EINVAL)"
        default: return "\(message(code)) (\(symbol(code)))"
        }
    }

    private static let table: [Int32: (symbol: String, message: String)] = [
        1: ("EPERM", "Operation not permitted"),
        2: ("ENOENT", "No such file or directory"),
        3: ("ESRCH", "No such process"),
        4: ("EINTR", "Interrupted system call"),
        5: ("EIO", "Input/output error"),
        9: ("EBADF", "Bad file descriptor"),
        11: ("EAGAIN", "Resource temporarily unavailable"),
        12: ("ENOMEM", "Cannot allocate memory"),
        13: ("EACCES", "Permission denied"),
        16: ("EBUSY", "Device or resource busy"),
        17: ("EEXIST", "File exists"),
        19: ("ENODEV", "No such device"),
        22: ("EINVAL", "Invalid argument"),
        23: ("ENFILE", "Too many open files in system"),
        24: ("EMFILE", "Too many open files"),
        28: ("ENOSPC", "No space left on device"),
        32: ("EPIPE", "Broken pipe"),
        34: ("ERANGE", "Numerical result out of range"),
        61: ("ENODATA", "No data available"),
        71: ("EPROTO", "Protocol error"),
        90: ("EMSGSIZE", "Message too long"),
        93: ("EPROTONOSUPPORT", "Protocol not supported"),
        95: ("EOPNOTSUPP", "Operation not supported"),
        97: ("EAFNOSUPPORT", "Address family not supported by protocol"),
        98: ("EADDRINUSE", "Address already in use"),
        99: ("EADDRNOTAVAIL", "Cannot assign requested address"),
        100: ("ENETDOWN", "Network is down"),
        101: ("ENETUNREACH", "Network is unreachable"),
        104: ("ECONNRESET", "Connection reset by peer"),
        105: ("ENOBUFS", "No buffer space available"),
        110: ("ETIMEDOUT", "Connection timed out"),
        111: ("ECONNREFUSED", "Connection refused"),
        113: ("EHOSTUNREACH", "No route to host"),
    ]
}
