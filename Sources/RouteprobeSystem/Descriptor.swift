// Descriptors with exactly one owner: the object that holds one closes it, once, in deinit.
#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor with exactly one owner, closed in deinit.
public final class OwnedDescriptor: Sendable {
    /// The descriptor number, for calls that take one; it stays valid as long as this object lives.
    package let fd: Int32

    /// Takes ownership of `fd`.
    package init(_ fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Writes all of `bytes` (standard output, a pipe); throws on the first failure.
    package func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        try OwnedDescriptor.writeAll(fd, bytes)
    }

    /// Writes all of `bytes` to a descriptor this process does not own (standard output).
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let start = offset
            offset += try systemCall("write") {
                bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress! + start, raw.count - start) }
            }
        }
    }

    /// Closes the descriptor in programs this process executes (FD_CLOEXEC).
    package func setCloseOnExec() throws(SystemError) {
        let fd = self.fd
        try systemCall("fcntl(F_SETFD)") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    /// Makes reads and writes return EAGAIN instead of blocking.
    package func setNonBlocking() throws(SystemError) {
        let fd = self.fd
        let flags = try systemCall("fcntl(F_GETFL)") { fcntl(fd, F_GETFL) }
        try systemCall("fcntl(F_SETFL)") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }
}

/// A pipe that wakes a thread blocked in poll(2): the owner writes a byte, the waiting thread sees its read
/// end become readable.
public final class WakePipe: Sendable {
    /// The end to poll.
    package let readEnd: OwnedDescriptor
    private let writeEnd: OwnedDescriptor

    /// Opens the pipe (close-on-exec, non-blocking).
    package init() throws(SystemError) {
        // pipe2(2) is declared only under _GNU_SOURCE: pipe(2), then the flags one by one.
        var fds: [Int32] = [-1, -1]
        try systemCall("pipe") { pipe(&fds) }
        readEnd = OwnedDescriptor(fds[0])
        writeEnd = OwnedDescriptor(fds[1])
        for end in [readEnd, writeEnd] {
            try end.setCloseOnExec()
            try end.setNonBlocking()
        }
    }

    /// Wakes the reader; a full pipe already wakes it, so a failed write is of no consequence.
    package func wake() {
        var byte: UInt8 = 1
        _ = write(writeEnd.fd, &byte, 1)
    }
}
