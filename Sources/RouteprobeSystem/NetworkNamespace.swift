// Entering a network namespace on a private thread: setns(2) changes only the calling thread, so the
// caller's threads (and Swift's cooperative pool) never change namespace. Sockets created on that thread
// stay in the namespace after the thread ends.
internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A network namespace, by name (`/run/netns/NAME`, as `ip netns` creates them) or by path (`/proc/PID/ns/net`).
public struct NetworkNamespace: Sendable, Hashable, CustomStringConvertible {
    /// The namespace file.
    public let path: String

    /// A namespace by `ip netns` name or, when the argument contains a slash, by path.
    public init(_ nameOrPath: String) {
        path = nameOrPath.contains("/") ? nameOrPath : "/run/netns/\(nameOrPath)"
    }

    public var description: String { path }

    /// Runs `body` inside `namespace` when there is one, else right here. `body` cannot fail: callers with
    /// errors of their own return a Result.
    /// Inlinable: specialised at the call site, so the usual case (no namespace) calls `body` directly,
    /// with no generic metadata for `T` to build at run time (a first `Result<_, SomeError>` costs the
    /// runtime a scan of every protocol conformance in the binary).
    @inlinable
    package static func run<T>(in namespace: NetworkNamespace?, _ body: () -> T) throws(SystemError) -> T {
        guard let namespace else { return body() }
        return try namespace.run(body)
    }

    /// Runs `body` on a new thread that has joined this namespace, and returns its result.
    @usableFromInline
    package func run<T>(_ body: () -> T) throws(SystemError) -> T {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.namespace(path: path, errno: errno) }
        let file = OwnedDescriptor(fd)
        // errno is per thread: the joining thread reads its own and hands it back.
        let outcome = try SystemThread.runAndJoin { () -> (value: T?, errno: Int32) in
            guard routeprobe_setns_network(file.fd) == 0 else { return (nil, errno) }
            return (body(), 0)
        }
        guard let value = outcome.value else { throw SystemError.namespace(path: path, errno: outcome.errno) }
        return value
    }
}
