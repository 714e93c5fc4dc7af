// How a long-running process keeps its footprint small: glibc's allocator, and the program's own code pages.
import Glibc
internal import CLinux

/// The process's memory.
public enum Memory {
    /// One malloc arena for every thread (M_ARENA_MAX 1): glibc otherwise gives each thread that allocates
    /// an arena of its own, and what a thread frees stays resident in its arena. For a service whose threads
    /// take turns, not one that allocates from many threads at once.
    public static func useOneArena() {
        _ = routeprobe_use_one_malloc_arena()
    }

    /// Hands the allocator's free memory back to the kernel, in every arena (malloc_trim(0)): after a burst
    /// (thousands of connections, a flood of route messages) freed memory otherwise stays resident. It walks
    /// the heap, so a service calls it now and then, not per request. True when memory was released.
    @discardableResult
    public static func returnFreeMemory() -> Bool { malloc_trim(0) == 1 }

    /// Unmaps the program's read-only pages (code, constants, unwind tables) from this process, so that only
    /// the pages it runs from now on come back. A service calls it once, when start-up is over: the code that
    /// parsed its configuration (the YAML parser, Foundation) then stops counting in its resident set.
    ///
    /// Safe because the pages are never written: each refaults, unchanged, from the page cache on its next
    /// use (a minor fault). Only the main program's loadable segments without write permission are touched;
    /// relocated data (RELRO, written at load time and then made read-only) sits in a writable segment, and
    /// the ranges are rounded inwards to whole pages, so no page shared with a writable segment is dropped.
    /// Returns the size of the ranges released (0 when the program headers cannot be read).
    @discardableResult
    public static func releaseProgramCode() -> Int {
        guard let table = routeprobe_program_headers() else { return 0 }
        let headers = UnsafeBufferPointer(start: table.assumingMemoryBound(to: Elf64_Phdr.self),
                                          count: Int(routeprobe_program_header_count()))
        // Where the program was loaded: the program-header table's address less its own virtual address.
        guard let own = headers.first(where: { $0.p_type == UInt32(PT_PHDR) }) else { return 0 }
        let base = UInt(bitPattern: table) &- UInt(own.p_vaddr)
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        var released = 0
        for header in headers where header.p_type == UInt32(PT_LOAD) && header.p_flags & UInt32(PF_W) == 0 {
            let start = (base + UInt(header.p_vaddr) + page - 1) / page * page
            let end = (base + UInt(header.p_vaddr) + UInt(header.p_memsz)) / page * page
            guard end > start, let address = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            if madvise(address, Int(end - start), MADV_DONTNEED) == 0 { released += Int(end - start) }
        }
        return released
    }
}
