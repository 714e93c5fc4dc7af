import RouteprobeCore
import RouteprobeSystem

/// What the agent needs before its first round, checked at start so that a misconfigured pod exits with the
/// reason instead of running rounds that probe nothing.
public enum Privileges {
    /// Opens (and closes) a raw ICMP socket in `namespace`: `missingCapability` when CAP_NET_RAW is missing,
    /// said for the agent ("grant NET_RAW in the pod's securityContext").
    public static func checkRawSockets(in namespace: NetworkNamespace?) throws(ProbeError) {
        do throws(SystemError) {
            _ = try OwnedDescriptor.socket(.inet, .raw(.icmp(for: .inet)), in: namespace)
        } catch {
            if error.isPermissionDenied {
                throw ProbeError.missingCapability("the agent needs CAP_NET_RAW for its ICMP and half-open TCP probes and the capture: run it as root, or add NET_RAW to the container's securityContext.capabilities (with NET_ADMIN)")
            }
            throw ProbeError(error)
        }
    }
}
