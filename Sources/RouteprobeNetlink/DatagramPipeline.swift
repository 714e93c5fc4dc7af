// A two-thread dump reader: a receiver thread keeps the kernel producing the next datagram while the
// caller's thread decodes the previous one, so a large dump costs about max(kernel, decode) instead of
// their sum. Buffers cycle through a small pool; nothing is copied.
import RouteprobeSystem
#if canImport(Glibc)
import Glibc
#endif

/// Receives the datagrams of one dump on its own thread and hands them over in order.
final class DatagramPipeline: @unchecked Sendable {
    // @unchecked Sendable: every field below `condition` is read and written only while holding it; the
    // transport is used only by the receiver thread until `finish()` has joined it.
    private let transport: any NetlinkTransport
    private let condition = ThreadCondition()
    private var free: [[UInt8]] = []
    /// Buffers are made only when needed: a small dump uses one or two, a large one up to `depth`.
    private var buffersMade = 0
    private let depth: Int
    private let bufferSize: Int
    private var filled: [(buffer: [UInt8], length: Int)] = []
    private var failure: NetlinkError? = nil
    private var ended = false
    private var discarding = false
    private var thread: SystemThread? = nil
    private var running: Bool { thread != nil }

    /// `depth` buffers of `bufferSize` bytes circulate between the threads.
    init(transport: any NetlinkTransport, bufferSize: Int = 1 << 16, depth: Int = 8) {
        self.transport = transport
        self.depth = depth
        self.bufferSize = bufferSize
    }

    /// Lets the receiver thread start once the dump proves large: the first datagram is read inline, and
    /// only when it is a full one (the kernel fills 16-32 kB when it has more to send, a small table fits
    /// in a few hundred bytes and `NLMSG_DONE` follows) does the rest go to a thread. If no thread can be
    /// made, receiving goes on inline in `next()`.
    func start() { threadWanted = true }
    private var threadWanted = false
    private var receivedInline = 0
    private var firstLength = 0
    /// A first datagram at least this long means a large dump.
    static let fullDatagram = 8192

    /// The next datagram and its length, or nil after the dump's last one. Give the buffer back with
    /// `recycle` once done with it.
    func next() throws(NetlinkError) -> (buffer: [UInt8], length: Int)? {
        if !running {
            if threadWanted, receivedInline > 0, !ended, firstLength >= DatagramPipeline.fullDatagram {
                threadWanted = false
                thread = try? SystemThread { self.receiveLoop() }
            }
            if !running { return try receiveInline() }
        }
        condition.lock()
        defer { condition.unlock() }
        while filled.isEmpty && failure == nil && !ended { condition.wait() }
        if !filled.isEmpty { return filled.removeFirst() }
        if let failure { throw failure }
        return nil
    }

    /// Returns a buffer to the pool.
    func recycle(_ buffer: consuming [UInt8]) {
        condition.lock()
        free.append(buffer)
        condition.signal()
        condition.unlock()
    }

    /// Lets the receiver read to the end of the dump (so the socket stays usable) without keeping the
    /// datagrams, and waits for it to stop.
    func finish() {
        guard running else { return }
        condition.lock()
        discarding = true
        free.append(contentsOf: filled.map(\.buffer))
        filled.removeAll()
        condition.broadcast()
        condition.unlock()
        thread?.join()
        thread = nil
    }

    private func receiveLoop() {
        while true {
            condition.lock()
            while free.isEmpty && buffersMade == depth { condition.wait() }
            var buffer: [UInt8]
            if let recycled = free.popLast() {
                buffer = recycled
            } else {
                buffersMade += 1
                buffer = [UInt8](repeating: 0, count: bufferSize)
            }
            condition.unlock()
            let outcome: Result<Int, NetlinkError>
            do throws(NetlinkError) { outcome = .success(try transport.receive(into: &buffer)) } catch { outcome = .failure(error) }
            condition.lock()
            defer { condition.broadcast(); condition.unlock() }
            switch outcome {
            case .failure(let error):
                failure = error
                return
            case .success(let length):
                if length == 0 {
                    failure = .incompleteDump
                    return
                }
                let last = DatagramPipeline.endsDump(buffer, length: length)
                if discarding { free.append(buffer) } else { filled.append((buffer, length)) }
                if last {
                    ended = true
                    return
                }
            }
        }
    }

    private func receiveInline() throws(NetlinkError) -> (buffer: [UInt8], length: Int)? {
        if ended { return nil }
        var buffer = free.popLast() ?? [UInt8](repeating: 0, count: bufferSize)
        let length = try transport.receive(into: &buffer)
        if length == 0 { throw NetlinkError.incompleteDump }
        receivedInline += 1
        if receivedInline == 1 { firstLength = length }
        if DatagramPipeline.endsDump(buffer, length: length) { ended = true }
        return (buffer, length)
    }

    /// True when the datagram holds `NLMSG_DONE` or `NLMSG_ERROR`, or cannot be framed (then the
    /// decoding side reports the framing error and nothing more should be read).
    static func endsDump(_ buffer: [UInt8], length: Int) -> Bool {
        var offset = 0
        while offset + NL.headerSize <= length {
            let messageLength = Int(UInt32(buffer[offset]) | UInt32(buffer[offset + 1]) << 8
                | UInt32(buffer[offset + 2]) << 16 | UInt32(buffer[offset + 3]) << 24)
            let type = UInt16(buffer[offset + 4]) | UInt16(buffer[offset + 5]) << 8
            if type == NL.done || type == NL.error { return true }
            if messageLength < NL.headerSize || offset + messageLength > length { return true }
            offset += align4(messageLength)
        }
        return offset != length
    }
}
