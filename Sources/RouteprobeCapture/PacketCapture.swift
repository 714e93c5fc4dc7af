import RouteprobeCore
import RouteprobeSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A live capture on one or more interfaces, read on its own thread until stopped.
public final class PacketCapture: @unchecked Sendable {
    // @unchecked Sendable: `handles` and `thread` are used by the owner and the reader in turn (start, then
    // stop joins); what both touch at once lives in the Mutex.
    private let handles: [PcapHandle]
    private let state: Mutex<(packets: [CapturedPacket], failures: [CaptureProblem], dropped: Int)>
    /// Packets kept between two drains; more are counted, not kept.
    private let limit: Int
    private var thread: SystemThread? = nil
    private let stopper: WakePipe

    /// Opens `devices` with a BPF `filter` (in `namespace` when given). A device that cannot be opened is
    /// skipped and named in `failures`; if none opens, this throws.
    /// `bufferSize` is each interface's kernel ring in bytes.
    public init(devices: [String], filter: String, namespace: NetworkNamespace? = nil, limit: Int = .max,
                bufferSize: Int = 1 << 19) throws(CaptureError) {
        self.limit = limit
        var opened: [PcapHandle] = []
        var problems: [CaptureProblem] = []
        for device in Set(devices).sorted() {
            let attempt = { () -> Result<PcapHandle, CaptureError> in
                do throws(CaptureError) { return .success(try PcapHandle.live(device: device, filter: filter, bufferSize: Int32(clamping: bufferSize))) } catch { return .failure(error) }
            }
            let outcome: Result<PcapHandle, CaptureError>
            do throws(SystemError) { outcome = try NetworkNamespace.run(in: namespace, attempt) } catch {
                throw CaptureError.pcap(error.description)
            }
            switch outcome {
            case .success(let handle): opened.append(handle)
            case .failure(let error):
                if case .permission = error { throw error }
                problems.append(.interfaceUnavailable(interface: device, reason: error.description))
            }
        }
        if opened.isEmpty { throw CaptureError.pcap(problems.first?.description ?? "no interface to capture on") }
        handles = opened
        state = Mutex((packets: [], failures: problems, dropped: 0))
        do throws(SystemError) { stopper = try WakePipe() } catch { throw CaptureError.pcap(error.description) }
    }

    /// What went wrong, one line each: interfaces that could not be captured on (libpcap's reason), read
    /// errors, and, after `stop()`, frames the kernel dropped because a ring was full.
    public var problems: [CaptureProblem] { state.withLock { $0.failures } }

    /// Frames the kernel dropped on all interfaces because a ring was full (known after `stop()`): the
    /// evidence of the flows they belonged to undercounts.
    public private(set) var kernelDrops = 0

    /// Starts reading on a thread of its own.
    public func start() throws(CaptureError) {
        do throws(SystemError) { thread = try SystemThread { self.readLoop() } } catch {
            throw CaptureError.pcap("cannot start the capture thread: \(error)")
        }
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
        stopper.wake()
        thread?.join()
        thread = nil
        var problems: [CaptureProblem] = []
        kernelDrops = 0
        for handle in handles {
            let drops = handle.kernelDrops
            kernelDrops += drops
            if drops > 0 {
                problems.append(.kernelDrops(interface: handle.interface, frames: drops))
            }
        }
        return state.withLock { state in
            state.failures += problems
            return state.packets
        }
    }

    private func readLoop() {
        var poller = PollSet(handles.map(\.selectableDescriptor) + [stopper.readEnd.fd])
        let stopPosition = handles.count
        var stopping = false
        while true {
            do throws(SystemError) {
                try poller.wait(milliseconds: stopping ? 0 : 100)
            } catch {
                state.withLock { $0.failures.append(.stoppedEarly(reason: error.description)) }
                break
            }
            if poller.isReady(stopPosition) { stopping = true }
            var batch: [CapturedPacket] = []
            for (index, handle) in handles.enumerated() where stopping || poller.isReady(index) {
                do throws(CaptureError) { try handle.readAvailable(into: &batch) } catch {
                    state.withLock { $0.failures.append(.readFailed(interface: handle.interface, reason: error.description)) }
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
