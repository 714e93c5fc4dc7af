// Entering a network namespace on a private thread: setns(2) changes only the calling thread, so the
// caller's threads (and Swift's cooperative pool) never change namespace. Sockets created on that thread
// stay in the namespace after the thread ends.
internal import CMnl
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

    /// Runs `body` inside `namespace` when there is one, else right here; for callers with their own error
    /// types, which return a Result.
    /// Inlinable: specialised at the call site, so the usual case (no namespace) calls `body` directly,
    /// with no generic metadata for `T` to build at run time (a first `Result<_, SomeError>` costs the
    /// runtime a scan of every protocol conformance in the binary).
    @inlinable
    package static func run<T>(in namespace: NetworkNamespace?, _ body: () -> T) throws(NetlinkError) -> T {
        guard let namespace else { return body() }
        return try namespace.runInside(body)
    }

    /// Runs `body` (which cannot fail) on a new thread inside this namespace; for callers with their own
    /// error types, which return a Result.
    @usableFromInline
    package func runInside<T>(_ body: () -> T) throws(NetlinkError) -> T {
        try run { () throws(NetlinkError) -> T in body() }
    }

    /// Runs `body` on a new thread that has joined this namespace, and returns its result.
    public func run<T>(_ body: () throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError.namespace(name: path, errno: errno) }
        defer { close(fd) }
        var outcome: Result<T, NetlinkError>? = nil
        withoutActuallyEscaping(body) { body in
            let joinAndRun = {
                if routeprobe_setns_network(fd) != 0 {
                    outcome = .failure(.namespace(name: self.path, errno: errno))
                    return
                }
                do throws(NetlinkError) { outcome = .success(try body()) } catch { outcome = .failure(error) }
            }
            // The closure does not outlive this call: the thread is joined before it returns.
            switch startThread(joinAndRun) {
            case .success(let thread): pthread_join(thread, nil)
            case .failure(let error): outcome = .failure(error)
            }
        }
        return try outcome!.get()
    }
}
