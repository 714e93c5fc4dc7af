import Foundation
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem
import RouteprobeCommandSupport

extension NetlinkError {
    /// The error as the CLI reports it.
    var failure: CommandFailure { CommandFailure(description) }
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
