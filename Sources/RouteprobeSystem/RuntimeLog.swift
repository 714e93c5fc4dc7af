#if canImport(Glibc)
import Glibc
#endif

/// Where the Swift runtime's own complaints go.
public enum RuntimeLog {
    /// Sends libdispatch's messages to standard error instead of syslog, unless LIBDISPATCH_LOG says otherwise.
    /// In a container without CAP_SYS_NICE, libdispatch logs "Failed to set thread priority for worker thread"
    /// to syslog each time a worker's priority cannot be raised (found running the image under podman): on a
    /// node that is the syslog routeprobe alerts to, where an SRE must read only alerts. Its log is set up on
    /// first use, so setting the variable at the start of main is in time.
    public static func keepOffSyslog() {
        setenv("LIBDISPATCH_LOG", "stderr", 0)
    }
}
