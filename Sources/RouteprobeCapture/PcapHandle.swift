// The libpcap boundary: the only file that holds pcap_t pointers. Each handle has one owner that closes
// it; packet bytes are copied out inside the callback before it returns.
internal import CPcap
import RouteprobeSystem
#if canImport(Glibc)
import Glibc
#endif

/// An open libpcap handle: live on an interface, or reading a file.
final class PcapHandle {
    private let handle: OpaquePointer
    /// The link-layer type, known once the handle is active.
    private(set) var linkType: Int32
    let interface: String

    private init(handle: OpaquePointer, interface: String) {
        self.handle = handle
        self.interface = interface
        self.linkType = pcap_datalink(handle)
    }

    deinit { pcap_close(handle) }

    /// Opens `device` live: immediate mode, non-blocking, `filter` compiled into the kernel's BPF.
    /// `snapshotLength` 160 covers the longest header chain the dissector reads (VLAN tag, IPv4 with options,
    /// ICMP, the quoted IPv4 header with options and 8 bytes). `bufferSize`: the kernel's ring; 512 kB holds
    /// about 2,400 such frames, drained every few milliseconds.
    static func live(device: String, filter: String, snapshotLength: Int32 = 160, bufferSize: Int32 = 1 << 19) throws(CaptureError) -> PcapHandle {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let raw = pcap_create(device, &errorBuffer) else {
            throw CaptureError.pcap("pcap_create(\(device)): \(text(errorBuffer))")
        }
        let handle = PcapHandle(handle: raw, interface: device)
        pcap_set_snaplen(raw, snapshotLength)
        pcap_set_immediate_mode(raw, 1)
        pcap_set_timeout(raw, 10)
        pcap_set_buffer_size(raw, bufferSize)
        let status = pcap_activate(raw)
        if status < 0 {
            let message = String(cString: pcap_geterr(raw))
            if status == PCAP_ERROR_PERM_DENIED {
                throw CaptureError.permission("capturing on \(device) needs CAP_NET_RAW: run as root or grant the capability (\(message))")
            }
            throw CaptureError.pcap("pcap_activate(\(device)): \(message)")
        }
        handle.linkType = pcap_datalink(raw)
        // On loopback every packet passes the tap twice, leaving and arriving; the arriving copy alone shows
        // each packet once. libpcap 1.10 drops the other copy only in user space, after the kernel has copied
        // it, so the kernel is told to skip it (PACKET_IGNORE_OUTGOING, Linux 4.20).
        if device == "lo" {
            _ = pcap_setdirection(raw, PCAP_D_IN)
            var ignore: Int32 = 1
            _ = setsockopt(pcap_fileno(raw), 263 /* SOL_PACKET */, 23 /* PACKET_IGNORE_OUTGOING */, &ignore,
                           socklen_t(MemoryLayout<Int32>.size))
        }
        try handle.setFilter(filter)
        if pcap_setnonblock(raw, 1, &errorBuffer) != 0 {
            throw CaptureError.pcap("pcap_setnonblock(\(device)): \(text(errorBuffer))")
        }
        return handle
    }

    /// Opens a pcap file for reading.
    static func offline(path: String) throws(CaptureError) -> PcapHandle {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let raw = pcap_open_offline(path, &errorBuffer) else {
            throw CaptureError.pcap("cannot read pcap file \(path): \(text(errorBuffer))")
        }
        return PcapHandle(handle: raw, interface: "")
    }

    private func setFilter(_ expression: String) throws(CaptureError) {
        var program = bpf_program()
        guard pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw CaptureError.pcap("bad capture filter: \(String(cString: pcap_geterr(handle)))")
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else {
            throw CaptureError.pcap("pcap_setfilter(\(interface)): \(String(cString: pcap_geterr(handle)))")
        }
    }

    /// Frames the kernel had to drop because the ring was full, since the handle opened (pcap_stats).
    var kernelDrops: Int {
        var statistics = pcap_stat()
        guard pcap_stats(handle, &statistics) == 0 else { return 0 }
        return Int(statistics.ps_drop)
    }

    /// The descriptor to poll for readable packets.
    var selectableDescriptor: Int32 { pcap_get_selectable_fd(handle) }

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
        let status = pcap_dispatch(handle, -1, { user, header, bytes in
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
            throw CaptureError.pcap("pcap_dispatch(\(interface)): \(String(cString: pcap_geterr(handle)))")
        }
    }
}

/// Writes packets to a pcap file that tcpdump and Wireshark read.
enum PcapWriter {
    static func write(_ packets: [CapturedPacket], linkType: Int32, snapshotLength: Int32 = 65535, to path: String) throws(CaptureError) {
        guard let dead = pcap_open_dead(linkType, snapshotLength) else { throw CaptureError.pcap("pcap_open_dead failed") }
        defer { pcap_close(dead) }
        guard let dumper = pcap_dump_open(dead, path) else {
            throw CaptureError.pcap("cannot write pcap file \(path): \(String(cString: pcap_geterr(dead)))")
        }
        defer { pcap_dump_close(dumper) }
        for packet in packets where packet.linkType == linkType {
            var header = pcap_pkthdr()
            header.ts.tv_sec = packet.seconds
            header.ts.tv_usec = packet.microseconds
            header.caplen = bpf_u_int32(packet.bytes.count)
            header.len = bpf_u_int32(max(packet.originalLength, packet.bytes.count))
            packet.bytes.withUnsafeBufferPointer { bytes in
                pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header, bytes.baseAddress)
            }
        }
        guard pcap_dump_flush(dumper) == 0 else { throw CaptureError.pcap("cannot write pcap file \(path)") }
    }
}

/// libpcap's error buffer as text: the bytes before the terminating zero.
private func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
