#if canImport(Glibc)
import Glibc
#endif

/// Where the Swift runtime's own complaints go.
public enum RuntimeLog {
    /// Silences libdispatch's own log unless LIBDISPATCH_LOG is set (`stderr` or `syslog` bring it back).
    /// In a container without CAP_SYS_NICE, libdispatch logs "Failed to set thread priority for worker thread"
    /// each time a worker's priority cannot be raised (found running the image under podman). To syslog, that
    /// is the stream routeprobe alerts to, where an SRE must read only alerts; to standard error, it comes with
    /// a "log file opened" header and turns a one-line error at start into four lines, in whatever order the
    /// threads write them. Nothing routeprobe decides depends on it. Its log is set up on first use, so setting
    /// the variable at the start of main is in time.
    public static func silenceLibdispatch() {
        setenv("LIBDISPATCH_LOG", "NO", 0)
    }
}
