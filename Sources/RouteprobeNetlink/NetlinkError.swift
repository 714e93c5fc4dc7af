import RouteprobeCore

/// Everything that can go wrong talking to the kernel over rtnetlink, each case with a sentence a person can act on.
public enum NetlinkError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A system call failed; `call` names it (`socket`, `bind`, `sendto`, `recvfrom`, `setns`, ...).
    case systemCall(call: String, errno: Int32)
    /// The kernel answered a request with `NLMSG_ERROR`; `message` is its extended-ack text, if any.
    case kernel(operation: String, errno: Int32, message: String?)
    /// A route lookup found no usable route; the errno tells why (see `description`).
    case noRoute(operation: String, errno: Int32, message: String?)
    /// A message or attribute is shorter than its header says, or shorter than its fixed part.
    case truncated(what: String, needed: Int, available: Int)
    /// A message or attribute is well-framed but its content is impossible (for example a 5-byte IPv4 address).
    case malformed(String)
    /// A reply carried a sequence number that is not the request's.
    case sequenceMismatch(expected: UInt32, received: UInt32)
    /// A reply carried a port id that is not this socket's.
    case portMismatch(expected: UInt32, received: UInt32)
    /// The table changed during every one of `attempts` dumps (`NLM_F_DUMP_INTR`), so no consistent copy exists.
    case dumpInterrupted(attempts: Int)
    /// The kernel sent a message type the request cannot produce.
    case unexpectedMessageType(UInt16)
    /// The answer ended before `NLMSG_DONE`.
    case incompleteDump
    /// The named network namespace does not exist or cannot be entered.
    case namespace(name: String, errno: Int32)

    public var description: String {
        switch self {
        case .systemCall(let call, let errno):
            var text = "\(call) failed: \(ErrnoName.message(errno)) (\(ErrnoName.symbol(errno)))"
            if errno == 1 || errno == 13 {
                text += "; this needs root or CAP_NET_ADMIN"
            } else if errno == 105, call == "recvfrom" {
                text += "; the socket overflowed"
            }
            return text
        case .kernel(let operation, let errno, let message):
            var text = "\(operation): the kernel answered \(ErrnoName.message(errno)) (\(ErrnoName.symbol(errno)))"
            if let message, !message.isEmpty { text += ": \(message)" }
            if errno == 1 || errno == 13 { text += "; this needs root or CAP_NET_ADMIN" }
            return text
        case .noRoute(let operation, let errno, let message):
            let reason = ErrnoName.lookupFailure(errno)
            var text = "\(operation): the kernel has no usable route: \(reason)"
            if let message, !message.isEmpty { text += ": \(message)" }
            return text
        case .truncated(let what, let needed, let available):
            return "malformed netlink message: \(what) needs \(needed) bytes but only \(available) are there"
        case .malformed(let detail):
            return "malformed netlink message: \(detail)"
        case .sequenceMismatch(let expected, let received):
            return "netlink reply out of order: expected sequence \(expected), got \(received)"
        case .portMismatch(let expected, let received):
            return "netlink reply for another socket: expected port \(expected), got \(received)"
        case .dumpInterrupted(let attempts):
            return "the routing table kept changing during \(attempts) dumps in a row; no consistent copy could be read, try again"
        case .unexpectedMessageType(let type):
            return "unexpected netlink message type \(type)"
        case .incompleteDump:
            return "the kernel's answer ended before NLMSG_DONE; the dump is incomplete"
        case .namespace(let name, let errno):
            var text = "cannot enter network namespace \(name): \(ErrnoName.message(errno)) (\(ErrnoName.symbol(errno)))"
            if errno == 2 { text += "; `ip netns list` shows the names that exist" }
            if errno == 1 { text += "; this needs root or CAP_SYS_ADMIN" }
            return text
        }
    }

    /// The errno behind the error, when there is one.
    public var errno: Int32? {
        switch self {
        case .systemCall(_, let errno), .kernel(_, let errno, _), .noRoute(_, let errno, _), .namespace(_, let errno): return errno
        default: return nil
        }
    }
}
