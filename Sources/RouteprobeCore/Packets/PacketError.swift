/// Why bytes could not be read as a packet.
public enum PacketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A layer is shorter than its header (`IPv4 header`, `TCP header`, `quoted IPv4 header`, ...).
    case truncated(String)
    /// A link type, ethertype, IP version or message routeprobe does not read.
    case unsupported(String)

    public var description: String {
        switch self {
        case .truncated(let layer): return "truncated \(layer)"
        case .unsupported(let what): return "unsupported \(what)"
        }
    }
}

/// Big-endian reads from packet bytes. Callers check the length first; these never go past the slice.
extension ArraySlice where Element == UInt8 {
    /// The big-endian 16-bit value at `offset` from the slice's start.
    @inlinable
    func uint16(at offset: Int) -> UInt16 {
        UInt16(self[startIndex + offset]) << 8 | UInt16(self[startIndex + offset + 1])
    }

    /// The big-endian 32-bit value at `offset` from the slice's start.
    @inlinable
    func uint32(at offset: Int) -> UInt32 {
        UInt32(uint16(at: offset)) << 16 | UInt32(uint16(at: offset + 2))
    }

    /// The byte at `offset` from the slice's start.
    @inlinable
    func byte(at offset: Int) -> UInt8 { self[startIndex + offset] }
}
