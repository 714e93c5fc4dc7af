import RouteprobeCore
import RouteprobeNetlink
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A live capture on one or more interfaces, read on its own thread until stopped.
public final class PacketCapture: @unchecked Sendable {
    // @unchecked Sendable: `handles` and `thread` are used by the owner and the reader in turn (start, then
    // stop joins); what both touch at once lives in the Mutex.
    private let handles: [PcapHandle]
    private let state: Mutex<(packets: [CapturedPacket], failures: [String], dropped: Int)>
    /// Packets kept between two drains; more are counted, not kept.
    private let limit: Int
    private var thread: pthread_t? = nil
    private let stopRead: Int32
    private let stopWrite: Int32

    /// Opens `devices` with a BPF `filter` (in `namespace` when given). A device that cannot be opened is
    /// skipped and named in `failures`; if none opens, this throws.
    /// `bufferSize` is each interface's kernel ring in bytes.
    public init(devices: [String], filter: String, namespace: NetworkNamespace? = nil, limit: Int = .max,
                bufferSize: Int = 1 << 19) throws(CaptureError) {
        self.limit = limit
        var opened: [PcapHandle] = []
        var problems: [String] = []
        for device in Set(devices).sorted() {
            let attempt = { () -> Result<PcapHandle, CaptureError> in
                do throws(CaptureError) { return .success(try PcapHandle.live(device: device, filter: filter, bufferSize: Int32(clamping: bufferSize))) } catch { return .failure(error) }
            }
            let outcome: Result<PcapHandle, CaptureError>
            do throws(NetlinkError) { outcome = try NetworkNamespace.run(in: namespace, attempt) } catch {
                throw CaptureError.pcap(error.description)
            }
            switch outcome {
            case .success(let handle): opened.append(handle)
            case .failure(let error):
                if case .permission = error { throw error }
                problems.append(error.description)
            }
        }
        if opened.isEmpty { throw CaptureError.pcap(problems.first ?? "no interface to capture on") }
        handles = opened
        state = Mutex((packets: [], failures: problems, dropped: 0))
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        stopRead = fds[0]
        stopWrite = fds[1]
    }

    deinit {
        close(stopRead)
        close(stopWrite)
    }

    /// What went wrong, one line each: interfaces that could not be captured on (libpcap's reason), read
    /// errors, and, after `stop()`, frames the kernel dropped because a ring was full.
    public var problems: [String] { state.withLock { $0.failures } }

    /// Frames the kernel dropped on all interfaces because a ring was full (known after `stop()`): the
    /// evidence of the flows they belonged to undercounts.
    public private(set) var kernelDrops = 0

    /// Starts reading.
    public func start() {
        if case .success(let started) = startThread({ self.readLoop() }) { thread = started }
    }

    /// Takes the packets captured so far (the capture goes on); at most `limit` are kept between two
    /// calls, the rest are only counted in the second value.
    public func drain() -> (packets: [CapturedPacket], dropped: Int) {
        state.withLock { state in
            let packets = state.packets
            state.packets = []
            let dropped = state.dropped
            state.dropped = 0
            return (packets, dropped)
        }
    }

    /// Stops after reading what has arrived, and returns every packet captured.
    public func stop() -> [CapturedPacket] {
        var byte: UInt8 = 1
        _ = write(stopWrite, &byte, 1)
        if let thread { pthread_join(thread, nil) }
        thread = nil
        var problems: [String] = []
        kernelDrops = 0
        for handle in handles {
            let drops = handle.kernelDrops
            kernelDrops += drops
            if drops > 0 {
                problems.append("capture on \(handle.interface): the kernel dropped \(drops) frames (ring full); the evidence undercounts")
            }
        }
        return state.withLock { state in
            state.failures += problems
            return state.packets
        }
    }

    private func readLoop() {
        var descriptors = handles.map { pollfd(fd: $0.selectableDescriptor, events: Int16(POLLIN), revents: 0) }
        descriptors.append(pollfd(fd: stopRead, events: Int16(POLLIN), revents: 0))
        var stopping = false
        while true {
            for index in descriptors.indices { descriptors[index].revents = 0 }
            let ready = poll(&descriptors, nfds_t(descriptors.count), stopping ? 0 : 100)
            if ready < 0, errno != EINTR { break }
            if descriptors.last!.revents != 0 { stopping = true }
            var batch: [CapturedPacket] = []
            for (index, handle) in handles.enumerated() where stopping || descriptors[index].revents != 0 {
                do throws(CaptureError) { try handle.readAvailable(into: &batch) } catch {
                    state.withLock { $0.failures.append(error.description) }
                }
            }
            let readSome = !batch.isEmpty
            if readSome {
                let limit = self.limit
                state.withLock { state in
                    let room = max(0, limit - state.packets.count)
                    if state.packets.isEmpty, batch.count <= room {
                        swap(&state.packets, &batch)   // the first batch since a drain moves in whole
                    } else {
                        state.packets.append(contentsOf: batch.prefix(room))
                        state.dropped += max(0, batch.count - room)
                    }
                }
            }
            if stopping { break }
            // Packets are delivered at once (immediate mode); reading them in 2 ms batches spares a wake-up
            // per packet when thousands of probes run.
            if readSome { usleep(2_000) }
        }
    }
}

/// Reading and writing pcap files.
public enum PcapFile {
    /// Every packet in a pcap file.
    public static func read(path: String) throws(CaptureError) -> [CapturedPacket] {
        let handle = try PcapHandle.offline(path: path)
        var packets: [CapturedPacket] = []
        try handle.readAvailable(into: &packets)
        return packets
    }

    /// Writes packets (those of `linkType`) to a pcap file.
    public static func write(_ packets: [CapturedPacket], linkType: Int32, to path: String) throws(CaptureError) {
        try PcapWriter.write(packets, linkType: linkType, to: path)
    }
}
