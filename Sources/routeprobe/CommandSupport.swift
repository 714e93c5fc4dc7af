import Foundation
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem

/// A failure the CLI reports as one line on stderr with an exit status.
struct CommandFailure: Error {
    let message: String
    let exitCode: Int32

    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    /// A usage error: exit status 2.
    static func usage(_ message: String) -> CommandFailure { CommandFailure(message, exitCode: 2) }

    func report() -> Never {
        FileHandle.standardError.write(Data("routeprobe: \(message)\n".utf8))
        exit(exitCode)
    }
}

extension NetlinkError {
    /// The error as the CLI reports it.
    var failure: CommandFailure { CommandFailure(description) }
}

/// Writes bytes to standard output in full; a closed pipe ends the program quietly, as `ip` does.
func writeToStandardOutput(_ bytes: [UInt8]) {
    do throws(SystemError) {
        try OwnedDescriptor.writeAll(1, bytes)
    } catch {
        exit(error.errno == EPIPE ? 0 : 1)
    }
}

func writeToStandardOutput(_ text: String) { writeToStandardOutput(Array(text.utf8)) }

/// Parses an address argument or fails with a usage error naming the option.
func parseAddress(_ text: String, option: String) throws -> IPAddress {
    guard let address = IPAddress(text) else {
        throw CommandFailure.usage("\(option) '\(text)' is not an IPv4 or IPv6 address")
    }
    return address
}

/// Opens a routing socket, in the namespace when one is given.
func openRoutingSocket(netns: String?) throws -> RoutingSocket {
    do {
        return try RoutingSocket(namespace: netns.map(NetworkNamespace.init))
    } catch {
        throw error.failure
    }
}

/// Runs netlink work, turning its errors into one-line CLI failures.
func netlink<T>(_ body: () throws(NetlinkError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw error.failure
    }
}

/// Output text built as UTF-8 bytes in one buffer: each piece is copied in, with none of a String's
/// bookkeeping per append. `probe` prints six lines for each of thousands of targets; with String
/// appends, formatting them cost as much as probing them.
struct TextBuffer {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// A decimal integer, without an intermediate string: its digits, least significant first, then turned.
    mutating func append<Number: BinaryInteger>(_ number: Number) {
        if number < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = number.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes[start...].reverse()
    }
}
