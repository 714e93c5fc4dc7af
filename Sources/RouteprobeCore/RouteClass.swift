/// How the node's kernel would route a target (DESIGN.md, "The diagnosis model").
public enum RouteClass: String, Sendable, Hashable, Codable {
    /// The target is on this node: a local address, or a pod behind this node's own bridge.
    case local
    /// A route to the pod CIDR via a node's IP (host-gw style), or an on-link destination.
    case direct
    /// Only a default or aggregate route via the VPC gateway covers it: the VPC route table decides.
    case vpc
    /// Sent through a tunnel device (vxlan, ipip, wireguard ...).
    case overlay
    /// No route, or a blackhole/unreachable/prohibit route.
    case unreachable
}

/// The kernel's answer for one target, reduced to what diagnosis needs.
public struct RouteView: Sendable, Hashable {
    /// The class of the route.
    public var routeClass: RouteClass
    /// The egress device name.
    public var device: String?
    /// The gateway (next hop), if the route has one.
    public var gateway: IPAddress?
    /// The preferred source address.
    public var source: IPAddress?
    /// The kernel's route type.
    public var type: RouteType
    /// The errno of a failed lookup (ENETUNREACH, EHOSTUNREACH, EACCES, EINVAL).
    public var lookupErrno: Int32?
    /// The route as `ip route get` prints it (or the lookup error).
    public var text: String

    /// Builds a route view.
    public init(routeClass: RouteClass, device: String? = nil, gateway: IPAddress? = nil, source: IPAddress? = nil,
                type: RouteType = .unicast, lookupErrno: Int32? = nil, text: String) {
        self.routeClass = routeClass
        self.device = device
        self.gateway = gateway
        self.source = source
        self.type = type
        self.lookupErrno = lookupErrno
        self.text = text
    }

    /// Classifies a successful lookup.
    /// - Parameters:
    ///   - route: what the kernel's lookup answered.
    ///   - egress: the egress link, to recognise tunnels.
    ///   - target: the address looked up.
    ///   - map: the cluster map, to recognise next hops that are nodes.
    ///   - localNode: the node the lookup ran on, whose own pod CIDRs are local.
    ///   - text: the route as people read it.
    public static func classify(_ route: Route, egress: Link?, target: IPAddress, map: ClusterMap?,
                                localNode: ClusterMap.Node?, text: String) -> RouteView {
        let hop = route.nextHops.first
        var view = RouteView(routeClass: .direct, device: egress?.name, gateway: hop?.gateway ?? hop?.via,
                             source: route.preferredSource, type: route.type, text: text)
        if route.type.rejectsTraffic || route.type == .throw {
            view.routeClass = .unreachable
        } else if route.type == .local || route.type == .broadcast {
            view.routeClass = .local
        } else if let egress, egress.isTunnel {
            view.routeClass = .overlay
        } else if let gateway = view.gateway {
            // Via a node's own IP: host-gw style, direct. Via anything else: the VPC router decides.
            view.routeClass = map?.node(withIP: gateway) != nil ? .direct : .vpc
        } else if let localNode, localNode.podCIDRs.contains(where: { $0.contains(target) }) || localNode.hasAddress(target) {
            view.routeClass = .local
        } else {
            view.routeClass = .direct
        }
        return view
    }

    /// A view for a lookup that failed with `errno`.
    public static func failedLookup(errno: Int32, text: String) -> RouteView {
        RouteView(routeClass: .unreachable, lookupErrno: errno, text: text)
    }
}
