// Reading small files and listing directories with plain system calls: configuration files that must cost
// the command that reads them next to nothing (the iproute2 name tables are read by every `routes`).
#if canImport(Glibc)
import Glibc
#endif

/// Small files and directories.
public enum Files {
    /// The whole file at `path` (read until end of file, EINTR retried).
    public static func read(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.systemCall(call: "open(\(path))", errno: errno) }
        let file = OwnedDescriptor(fd)
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try systemCall("read(\(path))") { chunk.withUnsafeMutableBytes { Glibc.read(file.fd, $0.baseAddress, $0.count) } }
            if count == 0 { return contents }
            contents += chunk[0..<count]
        }
    }

    /// The names in the directory at `path`, without `.` and `..`, in no particular order.
    public static func entries(of path: String) throws(SystemError) -> [String] {
        guard let directory = opendir(path) else { throw SystemError.systemCall(call: "opendir(\(path))", errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
