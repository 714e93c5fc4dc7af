// Requests and their answers over one rtnetlink socket: dumps that are complete or fail, and single lookups.
import RouteprobeCore
import RouteprobeSystem

/// The node's routing view over rtnetlink: route, link, address, neighbour and rule dumps, and kernel route
/// lookups.
///
/// Dumps are all-or-nothing: replies must carry this request's sequence number and this socket's port id,
/// must end with `NLMSG_DONE`, and an `NLMSG_ERROR` becomes `NetlinkError.kernel`. When the kernel marks a
/// dump `NLM_F_DUMP_INTR` (the table changed meanwhile) the dump is repeated from scratch, up to
/// `maximumDumpAttempts` times. After a framing error the socket's stream position is unknown: discard it.
public final class RoutingSocket {
    private let transport: any NetlinkTransport
    private var sequence: UInt32
    private var buffer: [UInt8]
    /// How often a dump is repeated when the kernel says it was interrupted.
    public var maximumDumpAttempts = 5
    /// How many dumps were repeated because they were interrupted, since this socket was opened.
    public private(set) var interruptedDumps = 0

    /// Opens a routing socket, in `namespace` when given.
    public convenience init(namespace: NetworkNamespace? = nil) throws(NetlinkError) {
        let socket = try MnlSocket(namespace: namespace)
        // A sequence seed that differs between runs, as iproute2 seeds with time(NULL).
        let now = MonotonicClock.nanoseconds()
        self.init(transport: socket, firstSequence: UInt32(truncatingIfNeeded: now / 1_000_000_000 ^ now % 1_000_000_000))
    }

    /// Uses any transport (the test seam); sequence numbers start at `firstSequence`.
    package init(transport: any NetlinkTransport, firstSequence: UInt32) {
        self.transport = transport
        self.sequence = firstSequence
        self.buffer = [UInt8](repeating: 0, count: 1 << 16)
    }

    // MARK: Dumps

    /// Every IPv4 and/or IPv6 route of every table, in the kernel's order.
    public func routes(family: AddressFamily? = nil) throws(NetlinkError) -> [Route] {
        try forEachRoute(family: family, into: [Route]()) { $0.append($1) }
    }

    /// Streams a route dump into an accumulator without holding the routes: `initial` starts each attempt
    /// afresh, so a dump that had to be repeated never mixes two copies of the table.
    public func forEachRoute<Accumulator>(family: AddressFamily?, into initial: @autoclosure () -> Accumulator,
                                          _ add: (inout Accumulator, Route) -> Void) throws(NetlinkError) -> Accumulator {
        var header = [UInt8](repeating: 0, count: routeMessageHeaderSize)
        header[0] = family?.rawValue ?? 0
        return try dump(type: NL.getRoute, header: header, operation: "route dump", initial: initial) {
            (accumulator: inout Accumulator, message: NetlinkMessageView) throws(NetlinkError) in
            guard message.type == NL.newRoute else { throw NetlinkError.unexpectedMessageType(message.type) }
            if let route = try decodeRoute(message.payload) { add(&accumulator, route) }
        }
    }

    /// Every network interface.
    public func links() throws(NetlinkError) -> [Link] {
        try objects(request: NL.getLink, reply: NL.newLink, headerSize: 16, family: nil, operation: "link dump") {
            (payload) throws(NetlinkError) in try decodeLink(payload)
        }
    }

    /// Interface names by index, as route output needs them.
    public func interfaceNames() throws(NetlinkError) -> [UInt32: String] {
        Dictionary(try links().map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    /// Every address on every interface.
    public func addresses(family: AddressFamily? = nil) throws(NetlinkError) -> [InterfaceAddress] {
        try objects(request: NL.getAddress, reply: NL.newAddress, headerSize: 8, family: family, operation: "address dump",
                    decode: decodeAddress)
    }

    /// The neighbour (ARP and NDP) table.
    public func neighbours(family: AddressFamily? = nil) throws(NetlinkError) -> [Neighbour] {
        try objects(request: NL.getNeighbour, reply: NL.newNeighbour, headerSize: 12, family: family,
                    operation: "neighbour dump", decode: decodeNeighbour)
    }

    /// The policy routing rules, in priority order as the kernel lists them.
    public func rules(family: AddressFamily? = nil) throws(NetlinkError) -> [PolicyRule] {
        try objects(request: NL.getRule, reply: NL.newRule, headerSize: 12, family: family, operation: "rule dump",
                    decode: decodeRule)
    }

    /// One dump of `request`, each `reply` message decoded; `decode` returns nil for entries to skip.
    private func objects<Object>(request: UInt16, reply: UInt16, headerSize: Int, family: AddressFamily?, operation: String,
                                 decode: (UnsafeRawBufferPointer) throws(NetlinkError) -> Object?) throws(NetlinkError) -> [Object] {
        var header = [UInt8](repeating: 0, count: headerSize)
        header[0] = family?.rawValue ?? 0
        return try dump(type: request, header: header, operation: operation, initial: { [Object]() }) {
            (objects: inout [Object], message: NetlinkMessageView) throws(NetlinkError) in
            guard message.type == reply else { throw NetlinkError.unexpectedMessageType(message.type) }
            if let object = try decode(message.payload) { objects.append(object) }
        }
    }

    // MARK: Lookup

    /// Asks the kernel which route it would use for `destination`, as `ip route get` does: policy rules,
    /// `from` and `iif` count. Throws `NetlinkError.kernel` with the kernel's errno when there is no route
    /// (ENETUNREACH, EHOSTUNREACH for unreachable routes, EACCES for prohibit, EINVAL for blackhole, ...).
    public func lookup(_ destination: IPAddress, from source: IPAddress? = nil, inputInterface: UInt32? = nil,
                       outputInterface: UInt32? = nil, mark: UInt32? = nil) throws(NetlinkError) -> Route {
        let family = destination.family
        if let source, source.family != family {
            throw NetlinkError.malformed("source \(source) and destination \(destination) are of different families")
        }
        let sequence = nextSequence()
        let request = RoutingSocket.lookupRequest(destination, from: source, inputInterface: inputInterface,
                                                  outputInterface: outputInterface, mark: mark, sequence: sequence)
        try transport.send(request)
        let operation = "route get \(destination)" + (source.map { " from \($0)" } ?? "")
        while true {
            let length = try transport.receive(into: &buffer)
            if length == 0 { throw NetlinkError.incompleteDump }
            var answer: Route? = nil
            let portID = transport.portID
            try buffer.withPrefix(length) { (datagram) throws(NetlinkError) in
                try forEachMessage(in: datagram) { (message) throws(NetlinkError) in
                    guard answer == nil else { return }
                    try RoutingSocket.check(message, sequence: sequence, portID: portID)
                    switch message.type {
                    case NL.newRoute:
                        guard let route = try decodeRoute(message.payload) else {
                            throw NetlinkError.malformed("route lookup answered with an unsupported family")
                        }
                        answer = route
                    case NL.error:
                        let (code, text) = try decodeError(message)
                        throw NetlinkError.noRoute(operation: operation, errno: code, message: text)
                    case NL.noop:
                        return
                    default:
                        throw NetlinkError.unexpectedMessageType(message.type)
                    }
                }
            }
            if let answer { return answer }
        }
    }

    /// Looks up many destinations, as `lookup` does each: the requests go out `batch` at a time in one datagram
    /// (the kernel answers each message of it in turn), and each answer is matched to its request by sequence
    /// number. One send per batch instead of one per destination: a thousand lookups are a thousand fewer
    /// system calls. A destination without a usable route is a `.noRoute` failure in its slot; a framing or
    /// socket error throws, as a dump's does.
    public func lookups(_ destinations: [IPAddress], batch: Int = 64) throws(NetlinkError) -> [Result<Route, NetlinkError>] {
        var results = [Result<Route, NetlinkError>?](repeating: nil, count: destinations.count)
        let portID = transport.portID
        var start = 0
        while start < destinations.count {
            let end = min(start + max(1, batch), destinations.count)
            var request: [UInt8] = []
            var slotOfSequence: [UInt32: Int] = [:]
            for index in start..<end {
                let sequence = nextSequence()
                slotOfSequence[sequence] = index
                request += RoutingSocket.lookupRequest(destinations[index], from: nil, inputInterface: nil, outputInterface: nil,
                                                       mark: nil, sequence: sequence)
            }
            try transport.send(request)
            var pending = end - start
            while pending > 0 {
                let length = try transport.receive(into: &buffer)
                if length == 0 { throw NetlinkError.incompleteDump }
                try buffer.withPrefix(length) { (datagram) throws(NetlinkError) in
                    try forEachMessage(in: datagram) { (message) throws(NetlinkError) in
                        if message.type == NL.noop { return }
                        guard let index = slotOfSequence[message.sequence], results[index] == nil else {
                            throw NetlinkError.sequenceMismatch(expected: slotOfSequence.keys.min() ?? 0, received: message.sequence)
                        }
                        guard message.portID == portID else { throw NetlinkError.portMismatch(expected: portID, received: message.portID) }
                        switch message.type {
                        case NL.newRoute:
                            guard let route = try decodeRoute(message.payload) else {
                                throw NetlinkError.malformed("route lookup answered with an unsupported family")
                            }
                            results[index] = .success(route)
                        case NL.error:
                            let (code, text) = try decodeError(message)
                            results[index] = .failure(.noRoute(operation: "route get \(destinations[index])", errno: code, message: text))
                        default:
                            throw NetlinkError.unexpectedMessageType(message.type)
                        }
                        pending -= 1
                    }
                }
            }
            start = end
        }
        return results.map { $0! }
    }

    /// The `RTM_GETROUTE` request `lookup` sends (exposed for encoding tests).
    package static func lookupRequest(_ destination: IPAddress, from source: IPAddress?, inputInterface: UInt32?,
                                      outputInterface: UInt32?, mark: UInt32?, sequence: UInt32) -> [UInt8] {
        let family = destination.family
        var builder = NetlinkRequestBuilder(type: NL.getRoute, flags: NL.request, sequence: sequence)
        var header = [UInt8](repeating: 0, count: routeMessageHeaderSize)
        header[0] = family.rawValue
        header[1] = UInt8(family.addressBitWidth)
        header[2] = source == nil ? 0 : UInt8(family.addressBitWidth)
        // Only IPv4 knows RTM_F_LOOKUP_TABLE: report the table the lookup really used, as iproute2 asks.
        let flags: UInt32 = family == .inet ? RouteFlags.lookupTable.rawValue : 0
        withUnsafeBytes(of: flags.littleEndian) { for index in 0..<4 { header[8 + index] = $0[index] } }
        builder.appendBytes(header)
        builder.appendAttribute(type: RTA.destination, payload: destination.bytes)
        if let source { builder.appendAttribute(type: RTA.source, payload: source.bytes) }
        if let inputInterface { builder.appendAttribute(type: RTA.inputInterface, integer: inputInterface) }
        if let outputInterface { builder.appendAttribute(type: RTA.outputInterface, integer: outputInterface) }
        if let mark { builder.appendAttribute(type: RTA.mark, integer: mark) }
        return builder.bytes
    }

    /// The dump request for one message type (exposed for encoding tests).
    package static func dumpRequest(type: UInt16, header: [UInt8], sequence: UInt32) -> [UInt8] {
        var builder = NetlinkRequestBuilder(type: type, flags: NL.request | NL.dump, sequence: sequence)
        builder.appendBytes(header)
        return builder.bytes
    }

    // MARK: The dump engine

    private func dump<Accumulator>(type: UInt16, header: [UInt8], operation: String,
                                   initial: () -> Accumulator,
                                   consume: (inout Accumulator, NetlinkMessageView) throws(NetlinkError) -> Void)
        throws(NetlinkError) -> Accumulator {
        for _ in 1...maximumDumpAttempts {
            var accumulator = initial()
            let sequence = nextSequence()
            try transport.send(RoutingSocket.dumpRequest(type: type, header: header, sequence: sequence))
            let interrupted = try receiveDump(sequence: sequence, operation: operation) { (message) throws(NetlinkError) in
                try consume(&accumulator, message)
            }
            if !interrupted { return accumulator }
            interruptedDumps += 1
        }
        throw NetlinkError.dumpInterrupted(attempts: maximumDumpAttempts)
    }

    /// Reads one dump to its `NLMSG_DONE`. A message that fails to decode does not stop the reading (the
    /// socket must be drained to stay usable) but its error is thrown at the end. Returns true when the
    /// kernel flagged the dump as interrupted.
    private func receiveDump(sequence: UInt32, operation: String,
                             _ consume: (NetlinkMessageView) throws(NetlinkError) -> Void) throws(NetlinkError) -> Bool {
        var interrupted = false
        var decodeFailure: NetlinkError? = nil
        var finished = false
        let portID = transport.portID
        let pipeline = DatagramPipeline(transport: transport)
        pipeline.start()
        defer { pipeline.finish() }
        while !finished {
            guard let (datagram, length) = try pipeline.next() else { throw NetlinkError.incompleteDump }
            defer { pipeline.recycle(datagram) }
            try datagram.withPrefix(length) { (bytes) throws(NetlinkError) in
                try forEachMessage(in: bytes) { (message) throws(NetlinkError) in
                    if finished { return }
                    try RoutingSocket.check(message, sequence: sequence, portID: portID)
                    if message.flags & NL.dumpInterrupted != 0 { interrupted = true }
                    switch message.type {
                    case NL.done:
                        finished = true
                    case NL.error:
                        let (code, text) = try decodeError(message)
                        if code != 0 { throw NetlinkError.kernel(operation: operation, errno: code, message: text) }
                    case NL.noop:
                        return
                    case NL.overrun:
                        throw NetlinkError.malformed("the kernel reported a data overrun (NLMSG_OVERRUN)")
                    default:
                        guard decodeFailure == nil else { return }
                        do throws(NetlinkError) { try consume(message) } catch { decodeFailure = error }
                    }
                }
            }
        }
        if let decodeFailure { throw decodeFailure }
        return interrupted
    }

    private static func check(_ message: NetlinkMessageView, sequence: UInt32, portID: UInt32) throws(NetlinkError) {
        guard message.sequence == sequence else {
            throw NetlinkError.sequenceMismatch(expected: sequence, received: message.sequence)
        }
        guard message.portID == portID else {
            throw NetlinkError.portMismatch(expected: portID, received: message.portID)
        }
    }

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }
}

#if canImport(Glibc)
import Glibc
#endif
