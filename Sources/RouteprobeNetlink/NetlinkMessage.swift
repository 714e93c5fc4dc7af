// Netlink framing: building requests and walking replies. Replies are read through UnsafeRawBufferPointer
// for speed (a million-route dump is parsed in place); every read is bounds-checked first, so a short or
// garbage message becomes a NetlinkError, never a crash. Nothing unsafe leaves this file's functions.

/// Kernel constants of netlink and rtnetlink, named; the C names are in the comments.
enum NL {
    static let headerSize = 16                 // sizeof(struct nlmsghdr)
    static let attributeHeaderSize = 4         // sizeof(struct nlattr) / sizeof(struct rtattr)
    // Message types.
    static let noop: UInt16 = 1                // NLMSG_NOOP
    static let error: UInt16 = 2               // NLMSG_ERROR
    static let done: UInt16 = 3                // NLMSG_DONE
    static let overrun: UInt16 = 4             // NLMSG_OVERRUN
    static let newLink: UInt16 = 16            // RTM_NEWLINK
    static let getLink: UInt16 = 18            // RTM_GETLINK
    static let newAddress: UInt16 = 20         // RTM_NEWADDR
    static let getAddress: UInt16 = 22         // RTM_GETADDR
    static let newRoute: UInt16 = 24           // RTM_NEWROUTE
    static let deleteRoute: UInt16 = 25        // RTM_DELROUTE
    static let getRoute: UInt16 = 26           // RTM_GETROUTE
    static let newNeighbour: UInt16 = 28       // RTM_NEWNEIGH
    static let getNeighbour: UInt16 = 30       // RTM_GETNEIGH
    static let newRule: UInt16 = 32            // RTM_NEWRULE
    static let getRule: UInt16 = 34            // RTM_GETRULE
    // Header flags.
    static let request: UInt16 = 0x1           // NLM_F_REQUEST
    static let multi: UInt16 = 0x2             // NLM_F_MULTI
    static let ack: UInt16 = 0x4               // NLM_F_ACK
    static let dumpInterrupted: UInt16 = 0x10  // NLM_F_DUMP_INTR
    static let dump: UInt16 = 0x300            // NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
    static let capped: UInt16 = 0x100          // NLM_F_CAPPED (on NLMSG_ERROR)
    static let ackTLVs: UInt16 = 0x200         // NLM_F_ACK_TLVS (on NLMSG_ERROR)
    static let extendedAckMessage: UInt16 = 1  // NLMSGERR_ATTR_MSG
    static let attributeTypeMask: UInt16 = 0x3fff // NLA_TYPE_MASK
    // Socket options and groups.
    static let optionExtendedAck: Int32 = 11   // NETLINK_EXT_ACK
    static let groupIPv4Route: UInt32 = 0x40   // RTMGRP_IPV4_ROUTE
    static let groupIPv6Route: UInt32 = 0x400  // RTMGRP_IPV6_ROUTE
}

@inline(__always) func align4(_ value: Int) -> Int { (value + 3) & ~3 }

/// Builds one netlink request: a header, a fixed family header and attributes, in host byte order.
struct NetlinkRequestBuilder {
    private(set) var bytes: [UInt8]

    init(type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32 = 0) {
        bytes = []
        bytes.reserveCapacity(64)
        appendInteger(UInt32(NL.headerSize))
        appendInteger(type)
        appendInteger(flags)
        appendInteger(sequence)
        appendInteger(portID)
    }

    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        updateLength()
    }

    mutating func appendBytes(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
        updateLength()
    }

    mutating func appendAttribute(type: UInt16, payload: [UInt8]) {
        padToAlignment()
        appendInteger(UInt16(NL.attributeHeaderSize + payload.count))
        appendInteger(type)
        bytes.append(contentsOf: payload)
        padToAlignment()
        updateLength()
    }

    mutating func appendAttribute<T: FixedWidthInteger>(type: UInt16, integer: T) {
        var payload = [UInt8]()
        withUnsafeBytes(of: integer.littleEndian) { payload.append(contentsOf: $0) }
        appendAttribute(type: type, payload: payload)
    }

    private mutating func padToAlignment() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private mutating func updateLength() {
        let length = UInt32(bytes.count).littleEndian
        withUnsafeBytes(of: length) { raw in
            for index in 0..<4 { bytes[index] = raw[index] }
        }
    }
}

/// One message inside a received datagram; valid only inside the closure that received it.
struct NetlinkMessageView {
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32
    let portID: UInt32
    /// The bytes after the netlink header.
    let payload: UnsafeRawBufferPointer
}

/// Bounds-checked reads from raw bytes.
extension UnsafeRawBufferPointer {
    @inline(__always)
    func integer<T: FixedWidthInteger>(at offset: Int, as type: T.Type = T.self) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

/// Splits a datagram into messages, checking every length.
func forEachMessage(in datagram: UnsafeRawBufferPointer, _ body: (NetlinkMessageView) throws(NetlinkError) -> Void) throws(NetlinkError) {
    var offset = 0
    while offset < datagram.count {
        let remaining = datagram.count - offset
        guard remaining >= NL.headerSize else {
            throw NetlinkError.truncated(what: "netlink header", needed: NL.headerSize, available: remaining)
        }
        let length = Int(datagram.integer(at: offset, as: UInt32.self))
        guard length >= NL.headerSize else {
            throw NetlinkError.malformed("message length \(length) is shorter than the 16-byte header")
        }
        guard length <= remaining else {
            throw NetlinkError.truncated(what: "netlink message", needed: length, available: remaining)
        }
        let view = NetlinkMessageView(
            type: datagram.integer(at: offset + 4),
            flags: datagram.integer(at: offset + 6),
            sequence: datagram.integer(at: offset + 8),
            portID: datagram.integer(at: offset + 12),
            payload: UnsafeRawBufferPointer(rebasing: datagram[(offset + NL.headerSize)..<(offset + length)])
        )
        try body(view)
        offset += align4(length)
    }
}

/// Walks the attributes in `bytes`, checking every length; `body` gets the type (flag bits masked off)
/// and the payload.
@inline(__always)
func forEachAttribute(in bytes: UnsafeRawBufferPointer, context: String,
                      _ body: (UInt16, UnsafeRawBufferPointer) throws(NetlinkError) -> Void) throws(NetlinkError) {
    var offset = 0
    while offset < bytes.count {
        let remaining = bytes.count - offset
        guard remaining >= NL.attributeHeaderSize else {
            throw NetlinkError.truncated(what: "\(context) attribute header", needed: NL.attributeHeaderSize, available: remaining)
        }
        let length = Int(bytes.integer(at: offset, as: UInt16.self))
        let type = bytes.integer(at: offset + 2, as: UInt16.self) & NL.attributeTypeMask
        guard length >= NL.attributeHeaderSize else {
            throw NetlinkError.malformed("\(context) attribute \(type) has length \(length), shorter than its header")
        }
        guard length <= remaining else {
            throw NetlinkError.truncated(what: "\(context) attribute \(type)", needed: length, available: remaining)
        }
        try body(type, UnsafeRawBufferPointer(rebasing: bytes[(offset + NL.attributeHeaderSize)..<(offset + length)]))
        offset += align4(length)
    }
}

/// Decodes an `NLMSG_ERROR` payload: 0 is an acknowledgement, anything else the kernel's errno and its
/// extended-ack message.
func decodeError(_ message: NetlinkMessageView) throws(NetlinkError) -> (errno: Int32, text: String?) {
    let payload = message.payload
    guard payload.count >= 4 else {
        throw NetlinkError.truncated(what: "NLMSG_ERROR", needed: 4, available: payload.count)
    }
    let code = payload.integer(at: 0, as: Int32.self)
    var text: String? = nil
    if message.flags & NL.ackTLVs != 0, payload.count >= 4 + NL.headerSize {
        let originalLength = Int(payload.integer(at: 4, as: UInt32.self))
        let tlvStart = 4 + (message.flags & NL.capped != 0 ? NL.headerSize : align4(originalLength))
        if tlvStart <= payload.count {
            try? forEachAttribute(in: UnsafeRawBufferPointer(rebasing: payload[tlvStart...]), context: "extended ack") { type, value in
                if type == NL.extendedAckMessage {
                    text = String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
        }
    }
    return (code == Int32.min ? Int32.max : -code, text)
}

extension Array where Element == UInt8 {
    /// Runs `body` over the first `count` bytes, keeping `body`'s typed error (Array.withUnsafeBytes rethrows
    /// untyped).
    func withPrefix<R>(_ count: Int, _ body: (UnsafeRawBufferPointer) throws(NetlinkError) -> R) throws(NetlinkError) -> R {
        let outcome: Result<R, NetlinkError> = withUnsafeBytes { raw in
            do throws(NetlinkError) {
                return .success(try body(UnsafeRawBufferPointer(rebasing: raw[0..<Swift.min(count, raw.count)])))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }
}
