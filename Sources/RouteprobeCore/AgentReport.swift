/// The JSON the agents and the aggregator exchange (schema version 2): a registration, a probe plan and a
/// report per round. Every message carries `schema`; the aggregator refuses versions it does not speak.
/// Version 2: local findings are findings (the one model both roles share), and a report says after how
/// many failed rounds its agent opens a finding.
public enum WireSchema {
    /// The version this build speaks.
    public static let version = 2
    /// Limits that keep one message from costing the aggregator more than a node's fair share.
    public static let maximumNameLength = 253
    public static let maximumResults = 4096
    public static let maximumFindings = 1024
    public static let maximumMessageLength = 2048
    public static let maximumOpenAfter = 100
    /// The largest round number or probe count a report may carry: 2^53 (what every JSON reader holds
    /// exactly); a round every 100 ms reaches it in 28 million years.
    public static let maximumCounter = 9_007_199_254_740_992
}

/// An agent introducing itself: who it is and which pod CIDRs its node owns.
public struct NodeRegistration: Sendable, Hashable, Codable {
    /// The schema version.
    public var schema: Int
    /// The node's name.
    public var node: String
    /// The node's host IP.
    public var ip: IPAddress
    /// A dual-stack node's host IP of the other family (`otherIP` in JSON, optional).
    public var otherIP: IPAddress?
    /// The node's pod CIDRs; empty when the aggregator should take them from the API server's Node object.
    public var podCIDRs: [IPPrefix]
    /// Addresses in the pod CIDRs worth probing (the beacon), optional.
    public var podTargets: [IPAddress]
    /// The cloud's id of the node's machine, as VPC route entries name their next hop; optional.
    public var instanceID: String?
    /// The agent's round interval in milliseconds (optional): an agent silent for three of them is `agentSilent`.
    public var intervalMilliseconds: Int?
    /// The intervals an agent may announce: 100 ms to one day.
    public static let intervalRange = 100...86_400_000

    /// Builds a registration.
    public init(node: String, ip: IPAddress, otherIP: IPAddress? = nil, podCIDRs: [IPPrefix], podTargets: [IPAddress] = [],
                instanceID: String? = nil, intervalMilliseconds: Int? = nil) {
        self.schema = WireSchema.version
        self.node = node
        self.ip = ip
        self.otherIP = otherIP
        self.podCIDRs = podCIDRs
        self.podTargets = podTargets
        self.instanceID = instanceID
        self.intervalMilliseconds = intervalMilliseconds
    }

    enum CodingKeys: String, CodingKey { case schema, node, ip, otherIP, podCIDRs, podTargets, instanceID, intervalMilliseconds }

    /// Decodes a registration; `podTargets` and `instanceID` may be left out.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decode(Int.self, forKey: .schema)
        node = try container.decode(String.self, forKey: .node)
        ip = try container.decode(IPAddress.self, forKey: .ip)
        otherIP = try container.decodeIfPresent(IPAddress.self, forKey: .otherIP)
        podCIDRs = try container.decodeIfPresent([IPPrefix].self, forKey: .podCIDRs) ?? []
        podTargets = try container.decodeIfPresent([IPAddress].self, forKey: .podTargets) ?? []
        instanceID = try container.decodeIfPresent(String.self, forKey: .instanceID)
        intervalMilliseconds = try container.decodeIfPresent(Int.self, forKey: .intervalMilliseconds)
    }

    /// The registration as a cluster-map node.
    public var clusterNode: ClusterMap.Node {
        ClusterMap.Node(name: node, ip: ip, otherIP: otherIP, podCIDRs: podCIDRs, podTargets: podTargets, instanceID: instanceID)
    }

    /// Why the aggregator cannot accept it, or nil.
    public var problem: String? {
        if schema != WireSchema.version { return "schema \(schema) is not supported (this aggregator speaks \(WireSchema.version))" }
        if let problem = WireSchema.nameProblem(node, what: "node") { return problem }
        if let otherIP, otherIP.family == ip.family { return "otherIP \(otherIP) is of the same family as ip \(ip)" }
        if podCIDRs.count > 64 { return "\(podCIDRs.count) pod CIDRs (at most 64)" }
        if podTargets.count > 64 { return "\(podTargets.count) pod targets (at most 64)" }
        if let instanceID, let problem = WireSchema.nameProblem(instanceID, what: "instance") { return problem }
        if let intervalMilliseconds, !Self.intervalRange.contains(intervalMilliseconds) {
            return "intervalMilliseconds \(intervalMilliseconds) is out of range (\(Self.intervalRange.lowerBound) to \(Self.intervalRange.upperBound))"
        }
        for target in podTargets where !podCIDRs.contains(where: { $0.contains(target) }) {
            return "pod target \(target) is outside the node's pod CIDRs"
        }
        return nil
    }
}

/// A control-plane dependency to probe (an APIService's or admission webhook's backend pod): its address,
/// port and name.
public struct PlannedTarget: Sendable, Hashable, Codable {
    public var address: IPAddress
    public var port: UInt16?
    public var name: String

    public init(address: IPAddress, port: UInt16?, name: String) {
        self.address = address
        self.port = port
        self.name = name
    }
}

/// What one agent should probe: the nodes whose pod CIDRs it is a source for (their host IPs are the
/// controls), and, on control-plane nodes, the backends the API server depends on. `cluster` holds those
/// nodes, the owners of the critical targets and the agent's own node, so that a plan stays small in a big
/// cluster and changes only when the agent's share of the work does.
public struct ProbePlan: Sendable, Hashable, Codable {
    /// The schema version.
    public var schema: Int
    /// The node the plan is for.
    public var node: String
    /// Changes whenever the plan's content changes; reports echo it so the agent learns of a new plan.
    public var generation: UInt64
    /// Names of the nodes whose pod targets this node probes.
    public var probeNodes: [String]
    /// APIService and webhook backends this node probes ("what it breaks"), ICMP and TCP to their port.
    public var criticalTargets: [PlannedTarget]
    /// The planned nodes, the agent's own node and the beacon port.
    public var cluster: ClusterMap

    enum CodingKeys: String, CodingKey { case schema, node, generation, probeNodes, criticalTargets, cluster }

    /// Builds a plan; the generation is a hash of the content. Pass `clusterDigest` when building many
    /// plans for one cluster, so that the cluster is hashed once.
    public init(node: String, probeNodes: [String], criticalTargets: [PlannedTarget] = [], cluster: ClusterMap, clusterDigest: UInt64? = nil) {
        self.schema = WireSchema.version
        self.node = node
        self.probeNodes = probeNodes
        self.criticalTargets = criticalTargets
        self.cluster = cluster
        var hash = StableHash()
        hash.add(node)
        for name in probeNodes { hash.add(name) }
        for target in criticalTargets { hash.add("\(target.name)|\(target.address)|\(target.port ?? 0)") }
        hash.add(String(clusterDigest ?? cluster.digest))
        generation = hash.value
    }

    /// Decodes a plan; `criticalTargets` may be left out.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decode(Int.self, forKey: .schema)
        node = try container.decode(String.self, forKey: .node)
        generation = try container.decode(UInt64.self, forKey: .generation)
        probeNodes = try container.decode([String].self, forKey: .probeNodes)
        criticalTargets = try container.decodeIfPresent([PlannedTarget].self, forKey: .criticalTargets) ?? []
        cluster = try container.decode(ClusterMap.self, forKey: .cluster)
    }

    /// Builds the plan of `node` from a node index: the map holds `probeNodes`, `node` itself and the owners
    /// of the critical targets.
    public init(node: String, probeNodes: [String], criticalTargets: [PlannedTarget] = [], nodes: [String: ClusterMap.Node],
                probePort: UInt16, owners: [String] = []) {
        var names = [node] + probeNodes
        for owner in owners where !names.contains(owner) { names.append(owner) }
        let members = names.compactMap { nodes[$0] }
        self.init(node: node, probeNodes: probeNodes, criticalTargets: criticalTargets, cluster: ClusterMap(probePort: probePort, nodes: members))
    }

    /// The probes of one round: the planned nodes' pod targets, by ICMP and by TCP to the beacon port, then
    /// the critical targets by ICMP and by TCP to their own port.
    public var probeSpecs: [ProbeSpec] {
        ProbePlan.probeSpecs(node: node, probeNodes: probeNodes, criticalTargets: criticalTargets, cluster: cluster)
    }

    /// The probes of a round for `node`, from a plan's parts; the agent without a plan uses it directly, so
    /// that a round does not hash the whole cluster map into a generation it never reads.
    public static func probeSpecs(node: String, probeNodes: [String], criticalTargets: [PlannedTarget], cluster: ClusterMap) -> [ProbeSpec] {
        let wanted = Set(probeNodes)
        var specs = cluster.nodes.filter { wanted.contains($0.name) && $0.name != node }.flatMap { member in
            member.probeTargets.flatMap { target in
                [ProbeSpec(target: target, probeProtocol: .icmp),
                 ProbeSpec(target: target, probeProtocol: .tcp, port: cluster.probePort)]
            }
        }
        var seen = Set(specs)
        for target in criticalTargets {
            for spec in [ProbeSpec(target: target.address, probeProtocol: .icmp)] + (target.port.map { [ProbeSpec(target: target.address, probeProtocol: .tcp, port: $0)] } ?? [])
                where seen.insert(spec).inserted {
                specs.append(spec)
            }
        }
        return specs
    }
}

extension ClusterMap {
    /// A hash of everything in the map, the same in every process.
    public var digest: UInt64 {
        var hash = StableHash()
        hash.add(String(probePort))
        for member in nodes {
            hash.add(member.name)
            hash.add(member.ip.description)
            for cidr in member.podCIDRs { hash.add(cidr.description) }
            for target in member.podTargets { hash.add(target.description) }
        }
        return hash.value
    }
}

/// One round of one agent, as it posts it to the aggregator.
public struct AgentReport: Sendable, Hashable, Codable {
    /// The schema version.
    public var schema: Int
    /// The reporting node.
    public var node: String
    /// The agent's round counter (restarts at 0 with the agent).
    public var round: Int
    /// The plan generation the round followed (nil when it followed its own cluster map).
    public var planGeneration: UInt64?
    /// One entry per probe of the round.
    public var results: [ReportedProbe]
    /// Consecutive failed rounds after which the agent opens a finding: the aggregator counts a source as
    /// failing a CIDR once its probes have failed that often (1 to `maximumOpenAfter`).
    public var openAfter: Int
    /// Findings the agent holds open from its own checks (the kernel-route check), node-scoped, its own.
    public var localFindings: [Finding]
    /// Packets for other nodes' pod CIDRs that arrived on this node's uplink: the VPC sends them here.
    public var strayTraffic: [StrayTraffic]

    /// Builds a report.
    public init(node: String, round: Int, planGeneration: UInt64? = nil, openAfter: Int = 2, results: [ReportedProbe],
                localFindings: [Finding] = [], strayTraffic: [StrayTraffic] = []) {
        self.schema = WireSchema.version
        self.node = node
        self.round = round
        self.openAfter = openAfter
        self.planGeneration = planGeneration
        self.results = results
        self.localFindings = localFindings
        self.strayTraffic = strayTraffic
    }

    /// Why the aggregator cannot accept it, or nil.
    public var problem: String? {
        if schema != WireSchema.version { return "schema \(schema) is not supported (this aggregator speaks \(WireSchema.version))" }
        if let problem = WireSchema.nameProblem(node, what: "node") { return problem }
        if !(0...WireSchema.maximumCounter).contains(round) { return "round \(round) is out of range (0 to \(WireSchema.maximumCounter))" }
        if !(1...WireSchema.maximumOpenAfter).contains(openAfter) { return "openAfter \(openAfter) is out of range (1 to \(WireSchema.maximumOpenAfter))" }
        if results.count > WireSchema.maximumResults { return "\(results.count) results (at most \(WireSchema.maximumResults))" }
        if localFindings.count > WireSchema.maximumFindings { return "\(localFindings.count) local findings (at most \(WireSchema.maximumFindings))" }
        if strayTraffic.count > WireSchema.maximumFindings { return "\(strayTraffic.count) stray-traffic entries (at most \(WireSchema.maximumFindings))" }
        for (index, result) in results.enumerated() {
            if let problem = result.problem { return "results[\(index)]: \(problem)" }
        }
        for (index, finding) in localFindings.enumerated() {
            if let problem = localFindingProblem(finding) { return "localFindings[\(index)]: \(problem)" }
        }
        for (index, stray) in strayTraffic.enumerated() where stray.packets < 0 {
            return "strayTraffic[\(index)]: negative packet count"
        }
        return nil
    }
}

extension AgentReport {
    /// Why a local finding cannot be taken: an agent reports its own node's kernel-route findings only.
    func localFindingProblem(_ finding: Finding) -> String? {
        guard finding.scope == .node, finding.kind == .kernelRouteMissing || finding.kind == .kernelRouteWrong else {
            return "\(finding.kind.rawValue) (\(finding.scope.rawValue)) is not a local kernel-route finding"
        }
        guard finding.sources == [node] else { return "a finding of another node (sources \(finding.sources.prefix(3)))" }
        for (field, text) in [("message", finding.message), ("remediation", finding.remediation)]
            where text.utf8.count > WireSchema.maximumMessageLength {
            return "\(field) longer than \(WireSchema.maximumMessageLength) bytes"
        }
        if finding.id.utf8.count > WireSchema.maximumNameLength { return "id longer than \(WireSchema.maximumNameLength) bytes" }
        if !finding.breaks.isEmpty { return "breaks is the aggregator's to say" }
        return nil
    }
}

/// One probe's result in a report.
public struct ReportedProbe: Sendable, Hashable, Codable {
    /// The probed address.
    public var target: IPAddress
    /// `icmp` or `tcp`.
    public var probeProtocol: ProbeProtocol
    /// The TCP port.
    public var port: UInt16?
    /// The node whose pod CIDR holds the target, and that CIDR.
    public var owner: String?
    public var cidr: IPPrefix?
    /// How the source's kernel routes it.
    public var routeClass: RouteClass
    /// The egress device and gateway of that route.
    public var device: String?
    public var gateway: IPAddress?
    /// What came back, and the agent's local verdict.
    public var outcome: ProbeOutcome
    public var verdict: Verdict
    /// The round-trip time, when something answered.
    public var rttMs: Double?
    /// Requests sent (or seen leaving) and answers received.
    public var sent: Int
    public var received: Int
    /// The ICMP error that answered, if one did.
    public var icmpFrom: IPAddress?
    public var icmpType: UInt8?
    public var icmpCode: UInt8?
    /// The outcome of the control probe of the owner's host IP (nil when none ran).
    public var controlOutcome: ProbeOutcome?
    /// Consecutive rounds this probe has failed, this one included (0 when it worked).
    public var failedRounds: Int

    enum CodingKeys: String, CodingKey {
        case target, probeProtocol = "protocol", port, owner, cidr, routeClass, device, gateway, outcome, verdict, rttMs
        case sent, received, icmpFrom, icmpType, icmpCode, controlOutcome, failedRounds
    }

    /// Builds a reported probe.
    public init(target: IPAddress, probeProtocol: ProbeProtocol, port: UInt16? = nil, owner: String?, cidr: IPPrefix?,
                routeClass: RouteClass, device: String? = nil, gateway: IPAddress? = nil, outcome: ProbeOutcome,
                verdict: Verdict, rttMs: Double? = nil, sent: Int = 1, received: Int = 0, icmpFrom: IPAddress? = nil,
                icmpType: UInt8? = nil, icmpCode: UInt8? = nil, controlOutcome: ProbeOutcome? = nil, failedRounds: Int = 0) {
        self.target = target
        self.probeProtocol = probeProtocol
        self.port = port
        self.owner = owner
        self.cidr = cidr
        self.routeClass = routeClass
        self.device = device
        self.gateway = gateway
        self.outcome = outcome
        self.verdict = verdict
        self.rttMs = rttMs
        self.sent = sent
        self.received = received
        self.icmpFrom = icmpFrom
        self.icmpType = icmpType
        self.icmpCode = icmpCode
        self.controlOutcome = controlOutcome
        self.failedRounds = failedRounds
    }

    var problem: String? {
        if let owner, let problem = WireSchema.nameProblem(owner, what: "owner") { return problem }
        if let device, device.utf8.count > 64 { return "device name longer than 64 bytes" }
        for (name, value) in [("sent", sent), ("received", received), ("failedRounds", failedRounds)]
        where !(0...WireSchema.maximumCounter).contains(value) {
            return "\(name) \(value) is out of range (0 to \(WireSchema.maximumCounter))"
        }
        if let rttMs, !(rttMs >= 0 && rttMs < 3_600_000) { return "rttMs \(rttMs) out of range" }
        if let cidr, !cidr.contains(target) { return "target \(target) is outside cidr \(cidr)" }
        return nil
    }
}

/// Packets for another node's pod CIDR that arrived on this node's uplink.
public struct StrayTraffic: Sendable, Hashable, Codable {
    /// The pod CIDR they were addressed to.
    public var cidr: IPPrefix
    /// How many arrived since the last report.
    public var packets: Int
    /// The interface they arrived on.
    public var interface: String
    /// One of their source addresses.
    public var sampleSource: IPAddress?

    /// Builds an entry.
    public init(cidr: IPPrefix, packets: Int, interface: String, sampleSource: IPAddress? = nil) {
        self.cidr = cidr
        self.packets = packets
        self.interface = interface
        self.sampleSource = sampleSource
    }
}

extension WireSchema {
    /// A node name is 1 to 253 printable ASCII characters without spaces (Kubernetes names are a subset).
    static func nameProblem(_ name: String, what: String) -> String? {
        if name.isEmpty { return "\(what) name is empty" }
        if name.utf8.count > maximumNameLength { return "\(what) name longer than \(maximumNameLength) bytes" }
        if name.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7f }) { return "\(what) name '\(SyslogMessage.neutralised(name))' has spaces, control or non-ASCII characters" }
        return nil
    }
}

/// FNV-1a, 64 bits: a hash that is the same in every process (Swift's Hasher is seeded per process).
public struct StableHash: Sendable {
    /// The hash so far.
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    /// An empty hash.
    public init() {}

    /// Adds a string and a separator.
    public mutating func add(_ text: String) {
        add(bytesOf: text)
        mix(0x1f)
    }

    /// Adds a string's bytes alone, without a separator.
    public mutating func add(bytesOf text: String) {
        for byte in text.utf8 { mix(byte) }
    }

    private mutating func mix(_ byte: UInt8) {
        value ^= UInt64(byte)
        value = value &* 0x0100_0000_01b3
    }
}
