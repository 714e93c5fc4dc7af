// The clocks: monotonic for durations and deadlines, real time for timestamps people read.
#if canImport(Glibc)
import Glibc
#endif

/// The monotonic clock (CLOCK_MONOTONIC), in nanoseconds since an arbitrary start; never goes back.
public enum MonotonicClock {
    /// Now, in nanoseconds.
    @inlinable
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// The real-time clock (CLOCK_REALTIME), for timestamps in alerts and findings.
public enum WallClock {
    /// Now, as seconds and microseconds since the Unix epoch.
    public static func now() -> (seconds: Int, microseconds: Int) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return (now.tv_sec, now.tv_nsec / 1000)
    }
}
