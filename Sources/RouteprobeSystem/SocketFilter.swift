// Kernel-side filters on sockets: classic BPF programs (SO_ATTACH_FILTER) and the ICMP type filters of raw
// ICMP sockets. What a filter rejects is dropped before it is queued.
import RouteprobeCore
#if canImport(Glibc)
import Glibc
#endif

/// One classic BPF instruction (struct sock_filter).
public struct SocketFilterInstruction: Sendable, Hashable {
    /// The opcode (BPF_LD | BPF_H | BPF_ABS, ...).
    public var code: UInt16
    /// Instructions to skip when a jump's condition holds, and when it does not.
    public var jumpIfTrue: UInt8
    public var jumpIfFalse: UInt8
    /// The constant operand.
    public var constant: UInt32

    /// Builds an instruction.
    public init(_ code: UInt16, _ jumpIfTrue: UInt8 = 0, _ jumpIfFalse: UInt8 = 0, _ constant: UInt32) {
        self.code = code
        self.jumpIfTrue = jumpIfTrue
        self.jumpIfFalse = jumpIfFalse
        self.constant = constant
    }
}

extension OwnedDescriptor {
    /// Attaches a classic BPF program (SO_ATTACH_FILTER).
    package func attachFilter(_ program: [SocketFilterInstruction]) throws(SystemError) {
        // struct sock_filter is 8 bytes: code, jt, jf, k in host byte order.
        var instructions = [UInt8]()
        instructions.reserveCapacity(program.count * 8)
        for instruction in program {
            withUnsafeBytes(of: instruction.code) { instructions += $0 }
            instructions += [instruction.jumpIfTrue, instruction.jumpIfFalse]
            withUnsafeBytes(of: instruction.constant) { instructions += $0 }
        }
        let fd = self.fd
        try systemCall("setsockopt(SO_ATTACH_FILTER)") {
            instructions.withUnsafeBytes { filter in
                // struct sock_fprog: an unsigned short length, padding, then the pointer at offset 8.
                var header = [UInt8](repeating: 0, count: 16)
                header.withUnsafeMutableBytes { raw in
                    raw.storeBytes(of: UInt16(program.count), toByteOffset: 0, as: UInt16.self)
                    raw.storeBytes(of: filter.baseAddress, toByteOffset: 8, as: UnsafeRawPointer?.self)
                }
                return header.withUnsafeBytes { setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, $0.baseAddress, socklen_t($0.count)) }
            }
        }
    }

    /// Lets only the given ICMP (IPv4) or ICMPv6 message types through to a raw socket (ICMP_FILTER /
    /// ICMP6_FILTER).
    package func allowICMPTypes(_ types: [UInt8], family: AddressFamily) throws(SystemError) {
        if family == .inet {
            let blocked = ~types.reduce(UInt32(0)) { $0 | (1 << UInt32($1 & 31)) }
            try setRaw(level: 255 /* SOL_RAW */, option: 1 /* ICMP_FILTER */, name: "ICMP_FILTER",
                       bytes: withUnsafeBytes(of: blocked) { Array($0) })
        } else {
            // struct icmp6_filter: 256 bits, a set bit blocks the type.
            var filter = [UInt32](repeating: UInt32.max, count: 8)
            for type in types { filter[Int(type) >> 5] &= ~(UInt32(1) << UInt32(type & 31)) }
            try setRaw(level: Int32(IPPROTO_ICMPV6), option: 1 /* ICMP6_FILTER */, name: "ICMP6_FILTER",
                       bytes: filter.flatMap { word in withUnsafeBytes(of: word) { Array($0) } })
        }
    }
}
