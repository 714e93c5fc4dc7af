import Foundation
import RouteprobeCore
import RouteprobeSystem

/// A failure the CLI reports as one line on stderr with an exit status.
public struct CommandFailure: Error {
    /// The line, without the `routeprobe: ` prefix.
    public let message: String
    /// 1 for a failure, 2 for a usage error.
    public let exitCode: Int32

    /// A failure (exit status 1 unless given).
    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    /// A usage error: exit status 2.
    public static func usage(_ message: String) -> CommandFailure { CommandFailure(message, exitCode: 2) }

    /// Prints the line and exits.
    public func report() -> Never {
        FileHandle.standardError.write(Data("routeprobe: \(message)\n".utf8))
        exit(exitCode)
    }
}

/// Writes bytes to standard output in full; a closed pipe ends the program quietly, as `ip` does.
public func writeToStandardOutput(_ bytes: [UInt8]) {
    do throws(SystemError) {
        try OwnedDescriptor.writeAll(1, bytes)
    } catch {
        exit(error.errno == EPIPE ? 0 : 1)
    }
}

/// Writes text to standard output in full.
public func writeToStandardOutput(_ text: String) { writeToStandardOutput(Array(text.utf8)) }

/// Parses an address argument or fails with a usage error naming the option.
public func parseAddress(_ text: String, option: String) throws -> IPAddress {
    guard let address = IPAddress(text) else {
        throw CommandFailure.usage("\(option) '\(text)' is not an IPv4 or IPv6 address")
    }
    return address
}
