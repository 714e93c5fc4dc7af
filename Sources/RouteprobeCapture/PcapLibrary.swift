// libpcap is loaded on first use (dlopen), not at program start. On Debian 12 libpcap 1.10 brings libdbus,
// libsystemd, libgcrypt and six more libraries with it: loaded and relocated at start they cost every
// routeprobe command about 0.8 ms and every agent their resident pages, though most runs never capture.
// The functions routeprobe calls are looked up once, with the C signatures of <pcap/pcap.h>.
internal import CPcap
#if canImport(Glibc)
import Glibc
#endif

/// The libpcap functions routeprobe calls, resolved from the library loaded at first use.
struct PcapLibrary: @unchecked Sendable {
    // @unchecked Sendable: C function pointers, fixed once loaded.
    typealias Handle = OpaquePointer
    let create: @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?) -> Handle?
    let setSnapshotLength: @convention(c) (Handle?, Int32) -> Int32
    let setImmediateMode: @convention(c) (Handle?, Int32) -> Int32
    let setTimeout: @convention(c) (Handle?, Int32) -> Int32
    let setBufferSize: @convention(c) (Handle?, Int32) -> Int32
    let activate: @convention(c) (Handle?) -> Int32
    let lastError: @convention(c) (Handle?) -> UnsafeMutablePointer<CChar>?
    let dataLink: @convention(c) (Handle?) -> Int32
    let close: @convention(c) (Handle?) -> Void
    let setDirection: @convention(c) (Handle?, pcap_direction_t) -> Int32
    let fileDescriptor: @convention(c) (Handle?) -> Int32
    let setNonBlocking: @convention(c) (Handle?, Int32, UnsafeMutablePointer<CChar>?) -> Int32
    let openOffline: @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?) -> Handle?
    let compile: @convention(c) (Handle?, UnsafeMutablePointer<bpf_program>?, UnsafePointer<CChar>?, Int32, bpf_u_int32) -> Int32
    let freeCode: @convention(c) (UnsafeMutablePointer<bpf_program>?) -> Void
    let setFilter: @convention(c) (Handle?, UnsafeMutablePointer<bpf_program>?) -> Int32
    let statistics: @convention(c) (Handle?, UnsafeMutablePointer<pcap_stat>?) -> Int32
    let selectableDescriptor: @convention(c) (Handle?) -> Int32
    let dispatch: @convention(c) (Handle?, Int32, pcap_handler?, UnsafeMutablePointer<UInt8>?) -> Int32
    let openDead: @convention(c) (Int32, Int32) -> Handle?
    let dumpOpen: @convention(c) (Handle?, UnsafePointer<CChar>?) -> OpaquePointer?
    let dump: @convention(c) (UnsafeMutablePointer<UInt8>?, UnsafePointer<pcap_pkthdr>?, UnsafePointer<UInt8>?) -> Void
    let dumpClose: @convention(c) (OpaquePointer?) -> Void
    let dumpFlush: @convention(c) (OpaquePointer?) -> Int32

    /// The library, loaded at the first call; a missing library is an error that says what to install.
    static func shared() throws(CaptureError) -> PcapLibrary { try loaded.get() }

    private static let loaded: Result<PcapLibrary, CaptureError> = load()

    private static func load() -> Result<PcapLibrary, CaptureError> {
        // The soname Debian's libpcap0.8 installs, then the unversioned name of -dev installs elsewhere.
        guard let library = dlopen("libpcap.so.0.8", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libpcap.so", RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            return .failure(.pcap("cannot load libpcap (\(reason)); install libpcap0.8 (Debian) to capture"))
        }
        func symbol<Function>(_ name: String) throws(CaptureError) -> Function {
            guard let address = dlsym(library, name) else {
                throw CaptureError.pcap("libpcap has no \(name); routeprobe needs libpcap 1.9 or later")
            }
            return unsafeBitCast(address, to: Function.self)
        }
        do throws(CaptureError) {
            return .success(PcapLibrary(
                create: try symbol("pcap_create"), setSnapshotLength: try symbol("pcap_set_snaplen"),
                setImmediateMode: try symbol("pcap_set_immediate_mode"), setTimeout: try symbol("pcap_set_timeout"),
                setBufferSize: try symbol("pcap_set_buffer_size"), activate: try symbol("pcap_activate"),
                lastError: try symbol("pcap_geterr"), dataLink: try symbol("pcap_datalink"), close: try symbol("pcap_close"),
                setDirection: try symbol("pcap_setdirection"), fileDescriptor: try symbol("pcap_fileno"),
                setNonBlocking: try symbol("pcap_setnonblock"), openOffline: try symbol("pcap_open_offline"),
                compile: try symbol("pcap_compile"), freeCode: try symbol("pcap_freecode"), setFilter: try symbol("pcap_setfilter"),
                statistics: try symbol("pcap_stats"), selectableDescriptor: try symbol("pcap_get_selectable_fd"),
                dispatch: try symbol("pcap_dispatch"), openDead: try symbol("pcap_open_dead"), dumpOpen: try symbol("pcap_dump_open"),
                dump: try symbol("pcap_dump"), dumpClose: try symbol("pcap_dump_close"), dumpFlush: try symbol("pcap_dump_flush")))
        } catch {
            return .failure(error)
        }
    }

    /// The handle's last error as text.
    func errorText(_ handle: Handle) -> String { lastError(handle).map { String(cString: $0) } ?? "unknown error" }
}
