/// The local verdict for one target: reachable, a problem (one of the finding kinds), or not enough evidence.
public enum Verdict: Sendable, Hashable, Codable, RawRepresentable, CustomStringConvertible {
    /// The path works (a reply, or a RST from a closed port).
    case reachable
    /// The evidence names a problem: `vpcRouteMissing`, `kernelRouteMissing`, `kernelRouteWrong`,
    /// `rejectedByRouter` or `nodeUnreachable`.
    case problem(Finding.Kind)
    /// Not enough evidence; the message says what was seen.
    case unknown

    /// The kernel sends it to the VPC, the request leaves, nothing returns, and the owner's host answers.
    public static let vpcRouteMissing = Verdict.problem(.vpcRouteMissing)
    /// The node's own kernel has no usable route (none, or blackhole/unreachable/prohibit).
    public static let kernelRouteMissing = Verdict.problem(.kernelRouteMissing)
    /// The node's kernel sends the pod CIDR via a node that does not own it.
    public static let kernelRouteWrong = Verdict.problem(.kernelRouteWrong)
    /// A router answered with an ICMP error.
    public static let rejectedByRouter = Verdict.problem(.rejectedByRouter)
    /// The owner's host IP is silent too: the node is down or partitioned.
    public static let nodeUnreachable = Verdict.problem(.nodeUnreachable)

    /// `reachable`, `unknown`, or the finding kind's name.
    public var rawValue: String {
        switch self {
        case .reachable: return "reachable"
        case .unknown: return "unknown"
        case .problem(let kind): return kind.rawValue
        }
    }

    /// Reads the name back; nil for anything else.
    public init?(rawValue: String) {
        switch rawValue {
        case "reachable": self = .reachable
        case "unknown": self = .unknown
        default:
            guard let kind = Finding.Kind(rawValue: rawValue) else { return nil }
            self = .problem(kind)
        }
    }

    public var description: String { rawValue }
}

/// Everything known about one probe of one target, and what it means.
public struct Diagnosis: Sendable, Hashable {
    /// The verdict.
    public var verdict: Verdict
    /// One plain sentence a person can act on.
    public var message: String

    /// Builds a diagnosis.
    public init(verdict: Verdict, message: String) {
        self.verdict = verdict
        self.message = message
    }

    /// Combines the route, the probe outcome, the capture evidence and the control probe of the owner's host
    /// into a verdict, following DESIGN.md's table.
    /// - Parameters:
    ///   - route: the kernel's route for the target.
    ///   - result: the probe's result.
    ///   - evidence: what the capture saw, if a capture ran.
    ///   - owner: the node whose pod CIDR holds the target, from the cluster map.
    ///   - control: the result of probing the owner's host IP, if the target is a pod address.
    public static func diagnose(route: RouteView, result: ProbeResult, evidence: CaptureEvidence?,
                                owner: ClusterMap.Node?, control: ProbeResult?) -> Diagnosis {
        let target = result.spec.target
        let how = routeSentence(route)
        let cidr = owner?.podCIDRs.first { $0.contains(target) }
        // The owner's host address of the target's family: a dual-stack node's IPv6 pods are reached through its IPv6 address.
        let host = owner.map { $0.address(of: target.family) ?? $0.ip }
        let entry = cidr.map { "\($0) -> \(owner!.name) (\(host!))" }

        // host-gw style route via a node that does not own the CIDR: wrong even if a detour still delivers.
        if route.routeClass == .direct, let gateway = route.gateway, let owner, !owner.hasAddress(gateway) {
            let state = result.outcome.pathWorks ? "\(target) answers, but \(how)" : "\(target) is not reachable: \(how)"
            return Diagnosis(verdict: .kernelRouteWrong,
                             message: "\(state), and \(cidr.map(\.description) ?? "its pod CIDR") belongs to \(owner.name) (\(host!)). The node's kernel route points to the wrong node.")
        }

        if result.outcome.pathWorks {
            let what = result.outcome == .refused ? "the port is closed (RST), but the path works" : "it answers"
            let rtt = result.rttText
            return Diagnosis(verdict: .reachable, message: "\(target) is reachable: \(what)\(rtt.map { ", \($0)" } ?? "").")
        }

        // The node's own kernel cannot route it.
        if route.routeClass == .unreachable || result.outcome == .localError {
            var message = "\(target) is not reachable: \(how)."
            if let entry { message += " The node's kernel route for \(entry) is missing or blackholed." }
            else { message += " The node's kernel route for it is missing or blackholed." }
            return Diagnosis(verdict: .kernelRouteMissing, message: message)
        }

        // A router said no.
        if result.outcome == .icmpError, let icmp = result.icmpError ?? evidence?.icmpErrors.first {
            let fromTarget = icmp.from == target
            let verdict: Verdict = fromTarget ? .unknown : .rejectedByRouter
            var message = "\(target) is not reachable: \(how); \(icmp.from) answered \(icmp.meaning) (type \(icmp.type) code \(icmp.code))."
            if !fromTarget { message += " Router \(icmp.from) rejects traffic to it\(entry.map { "; check its route for \($0)" } ?? "")." }
            return Diagnosis(verdict: verdict, message: message)
        }

        let leaving = evidence.map { seen -> String in
            let noun = result.spec.probeProtocol == .tcp ? "SYN" : "echo request"
            let interfaces = seen.interfaces.isEmpty ? "" : " \(seen.interfaces.joined(separator: ","))"
            var text = "\(seen.requestsSeen) \(noun)\(seen.requestsSeen == 1 ? "" : "s") left\(interfaces)"
            text += seen.repliesSeen + seen.icmpErrors.count == 0 ? " and nothing came back" : " and \(seen.repliesSeen) replies came back"
            return text
        } ?? "nothing came back within the timeout"

        // The owner's host is silent too.
        if let owner, let control, !control.outcome.pathWorks {
            return Diagnosis(verdict: .nodeUnreachable,
                             message: "\(target) is not reachable: \(how); \(leaving); \(owner.name)'s host \(host!) does not answer either. The node is down or partitioned; this is not a route problem.")
        }

        if route.routeClass == .vpc, result.outcome == .timeout, evidence.map({ $0.requestsSeen > 0 }) ?? true {
            if let owner, let control, control.outcome.pathWorks, let entry {
                return Diagnosis(verdict: .vpcRouteMissing,
                                 message: "\(target) is not reachable: \(how); \(leaving); \(owner.name)'s host \(host!) answers. The VPC route entry \(entry) is probably missing.")
            }
            return Diagnosis(verdict: .unknown,
                             message: "\(target) is not reachable: \(how); \(leaving). Without a cluster map naming its owner, routeprobe cannot tell a missing VPC route from a down node.")
        }

        return Diagnosis(verdict: .unknown, message: "\(target) is not reachable: \(how); \(leaving).")
    }

    private static func routeSentence(_ route: RouteView) -> String {
        if let errno = route.lookupErrno {
            return "the kernel has no usable route for it: \(ErrnoName.lookupFailure(errno))"
        }
        let device = route.device.map { " via \($0)" } ?? ""
        switch route.routeClass {
        case .unreachable: return "the kernel's route is a \(route.type.name) route"
        case .local: return "it is on this node\(device)"
        case .overlay: return "the kernel sends it through the tunnel\(device)"
        case .vpc: return "the kernel sends it to the VPC gateway \(route.gateway.map(\.description) ?? "?")\(device)"
        case .direct:
            if let gateway = route.gateway { return "the kernel sends it directly to \(gateway)\(device)" }
            return "the kernel sends it on-link\(device)"
        }
    }
}
