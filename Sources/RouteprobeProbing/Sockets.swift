// How the system layer's errors read when probing meets them.
import RouteprobeCore
import RouteprobeSystem

extension ProbeError {
    /// A system call's failure as a probing error: a refused raw socket names the capability it needs.
    init(_ error: SystemError) {
        switch error {
        case .namespace:
            self = .namespace(error.description)
        case .systemCall(let call, let errno):
            if error.isPermissionDenied, call.hasPrefix("socket") {
                self = .missingCapability("\(call) needs CAP_NET_RAW: run as root or grant the capability (setcap cap_net_raw+ep)")
            } else {
                self = .system(call: call, errno: errno)
            }
        }
    }
}

/// Runs a system-layer operation, turning its failure into a ProbeError.
@inline(__always)
func probing<T>(_ body: () throws(SystemError) -> T) throws(ProbeError) -> T {
    do throws(SystemError) { return try body() } catch { throw ProbeError(error) }
}
