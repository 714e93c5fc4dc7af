// The one helper every system call in this target goes through: errno is read at once, EINTR is retried,
// and failures become NetlinkError.systemCall naming the call.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body` until it returns something other than -1 with EINTR; throws on -1 with the errno.
@discardableResult
func systemCall<Result: BinaryInteger>(_ name: String, retryOnInterrupt: Bool = true, _ body: () -> Result) throws(NetlinkError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR, retryOnInterrupt { continue }
        throw NetlinkError.systemCall(call: name, errno: code)
    }
}

/// Runs a libmnl call that returns a pointer, throwing with errno when it returns nil.
func systemCall<Pointer>(_ name: String, _ body: () -> Pointer?) throws(NetlinkError) -> Pointer {
    if let pointer = body() { return pointer }
    throw NetlinkError.systemCall(call: name, errno: errno)
}
