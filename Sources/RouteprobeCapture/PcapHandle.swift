// The libpcap boundary: the only file that holds pcap_t pointers. Each handle has one owner that closes
// it; packet bytes are copied out inside the callback before it returns.
internal import CPcap
import RouteprobeSystem
#if canImport(Glibc)
import Glibc
#endif

/// An open libpcap handle: live on an interface, or reading a file.
final class PcapHandle {
    private let pcap: PcapLibrary
    private let handle: OpaquePointer
    /// The link-layer type, known once the handle is active.
    private(set) var linkType: Int32
    let interface: String

    private init(pcap: PcapLibrary, handle: OpaquePointer, interface: String) {
        self.pcap = pcap
        self.handle = handle
        self.interface = interface
        self.linkType = pcap.dataLink(handle)
    }

    deinit { pcap.close(handle) }

    /// Opens `device` live: immediate mode, non-blocking, `filter` compiled into the kernel's BPF.
    /// `snapshotLength` 160 covers the longest header chain the dissector reads (VLAN tag, IPv4 with options,
    /// ICMP, the quoted IPv4 header with options and 8 bytes). `bufferSize`: the kernel's ring; 512 kB holds
    /// about 2,400 such frames, drained every few milliseconds.
    static func live(device: String, filter: String, snapshotLength: Int32 = 160, bufferSize: Int32 = 1 << 19) throws(CaptureError) -> PcapHandle {
        let pcap = try PcapLibrary.shared()
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let raw = pcap.create(device, &errorBuffer) else {
            throw CaptureError.pcap("pcap_create(\(device)): \(text(errorBuffer))")
        }
        let handle = PcapHandle(pcap: pcap, handle: raw, interface: device)
        _ = pcap.setSnapshotLength(raw, snapshotLength)
        _ = pcap.setImmediateMode(raw, 1)
        _ = pcap.setTimeout(raw, 10)
        _ = pcap.setBufferSize(raw, bufferSize)
        let status = pcap.activate(raw)
        if status < 0 {
            let message = pcap.errorText(raw)
            if status == PCAP_ERROR_PERM_DENIED {
                throw CaptureError.permission("capturing on \(device) needs CAP_NET_RAW: run as root or grant the capability (\(message))")
            }
            throw CaptureError.pcap("pcap_activate(\(device)): \(message)")
        }
        handle.linkType = pcap.dataLink(raw)
        // On loopback every packet passes the tap twice, leaving and arriving; the arriving copy alone shows
        // each packet once. libpcap 1.10 drops the other copy only in user space, after the kernel has copied
        // it, so the kernel is told to skip it (PACKET_IGNORE_OUTGOING, Linux 4.20).
        if device == "lo" {
            _ = pcap.setDirection(raw, PCAP_D_IN)
            var ignore: Int32 = 1
            _ = setsockopt(pcap.fileDescriptor(raw), 263 /* SOL_PACKET */, 23 /* PACKET_IGNORE_OUTGOING */, &ignore,
                           socklen_t(MemoryLayout<Int32>.size))
        }
        try handle.setFilter(filter)
        if pcap.setNonBlocking(raw, 1, &errorBuffer) != 0 {
            throw CaptureError.pcap("pcap_setnonblock(\(device)): \(text(errorBuffer))")
        }
        return handle
    }

    /// Opens a pcap file for reading.
    static func offline(path: String) throws(CaptureError) -> PcapHandle {
        let pcap = try PcapLibrary.shared()
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let raw = pcap.openOffline(path, &errorBuffer) else {
            throw CaptureError.pcap("cannot read pcap file \(path): \(text(errorBuffer))")
        }
        return PcapHandle(pcap: pcap, handle: raw, interface: "")
    }

    private func setFilter(_ expression: String) throws(CaptureError) {
        var program = bpf_program()
        guard pcap.compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw CaptureError.pcap("bad capture filter: \(pcap.errorText(handle))")
        }
        defer { pcap.freeCode(&program) }
        guard pcap.setFilter(handle, &program) == 0 else {
            throw CaptureError.pcap("pcap_setfilter(\(interface)): \(pcap.errorText(handle))")
        }
    }

    /// Frames the kernel had to drop because the ring was full, since the handle opened (pcap_stats).
    var kernelDrops: Int {
        var statistics = pcap_stat()
        guard pcap.statistics(handle, &statistics) == 0 else { return 0 }
        return Int(statistics.ps_drop)
    }

    /// The descriptor to poll for readable packets.
    var selectableDescriptor: Int32 { pcap.selectableDescriptor(handle) }

    /// Reads every packet available now (or, offline, the whole file), copying each out.
    func readAvailable(into packets: inout [CapturedPacket]) throws(CaptureError) {
        final class Sink {
            var packets: [CapturedPacket] = []
            let linkType: Int32
            let interface: String
            init(linkType: Int32, interface: String) { self.linkType = linkType; self.interface = interface }
        }
        let sink = Sink(linkType: linkType, interface: interface)
        // The callback appends straight to the caller's array: moved into the sink and back, not copied.
        swap(&sink.packets, &packets)
        defer { swap(&sink.packets, &packets) }
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let status = pcap.dispatch(handle, -1, { user, header, bytes in
            guard let user, let header, let bytes else { return }
            let sink = Unmanaged<Sink>.fromOpaque(UnsafeRawPointer(user)).takeUnretainedValue()
            let captured = Int(header.pointee.caplen)
            sink.packets.append(CapturedPacket(
                seconds: Int(header.pointee.ts.tv_sec), microseconds: Int(header.pointee.ts.tv_usec),
                linkType: sink.linkType, interface: sink.interface, originalLength: Int(header.pointee.len),
                bytes: Array(UnsafeBufferPointer(start: bytes, count: captured))))
        }, context.assumingMemoryBound(to: UInt8.self))
        withExtendedLifetime(sink) {}
        if status == PCAP_ERROR {
            throw CaptureError.pcap("pcap_dispatch(\(interface)): \(pcap.errorText(handle))")
        }
    }
}

/// Writes packets to a pcap file that tcpdump and Wireshark read.
enum PcapWriter {
    static func write(_ packets: [CapturedPacket], linkType: Int32, snapshotLength: Int32 = 65535, to path: String) throws(CaptureError) {
        let pcap = try PcapLibrary.shared()
        guard let dead = pcap.openDead(linkType, snapshotLength) else { throw CaptureError.pcap("pcap_open_dead failed") }
        defer { pcap.close(dead) }
        guard let dumper = pcap.dumpOpen(dead, path) else {
            throw CaptureError.pcap("cannot write pcap file \(path): \(pcap.errorText(dead))")
        }
        defer { pcap.dumpClose(dumper) }
        for packet in packets where packet.linkType == linkType {
            var header = pcap_pkthdr()
            header.ts.tv_sec = packet.seconds
            header.ts.tv_usec = packet.microseconds
            header.caplen = bpf_u_int32(packet.bytes.count)
            header.len = bpf_u_int32(max(packet.originalLength, packet.bytes.count))
            packet.bytes.withUnsafeBufferPointer { bytes in
                pcap.dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header, bytes.baseAddress)
            }
        }
        guard pcap.dumpFlush(dumper) == 0 else { throw CaptureError.pcap("cannot write pcap file \(path)") }
    }
}

/// libpcap's error buffer as text: the bytes before the terminating zero.
private func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
