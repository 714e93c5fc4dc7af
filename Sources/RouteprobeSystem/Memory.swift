// How a long-running process asks glibc's allocator to keep its footprint small.
internal import CLinux

/// The process's heap.
public enum Memory {
    /// One malloc arena for every thread (M_ARENA_MAX 1): glibc otherwise gives each thread that allocates
    /// an arena of its own, and what a thread frees stays resident in its arena. For a service whose threads
    /// take turns, not one that allocates from many threads at once.
    public static func useOneArena() {
        _ = routeprobe_use_one_malloc_arena()
    }
}
