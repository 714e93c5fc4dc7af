// Replacing this process with another program (execv), for the `routeprobe` command that hands its role
// subcommands to their own executables.
#if canImport(Glibc)
import Glibc
#endif

/// This process's program.
public enum ProcessImage {
    /// The path of the running executable (/proc/self/exe), nil when it cannot be read.
    public static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Replaces this process with `path`, passing `arguments` (the first is the program's name). Returns only
    /// by throwing, when the program cannot be executed.
    public static func replace(with path: String, arguments: [String]) throws(SystemError) -> Never {
        var pointers: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        pointers.append(nil)
        execv(path, pointers)
        let code = errno
        for pointer in pointers { free(pointer) }
        throw SystemError.systemCall(call: "execv(\(path))", errno: code)
    }
}
