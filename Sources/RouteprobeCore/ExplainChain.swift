/// `routeprobe explain`: the incident's chain from what a person sees to its cause and fix, built from the
/// aggregator's open findings, one step a line: the symptom (a namespace stuck Terminating, an unavailable
/// APIService), the unreachable pod, the VPC route entry, the route controller that did not repair it, the fix.
public struct ExplainChain: Sendable, Hashable, Codable {
    /// What a person asks about.
    public enum Subject: Sendable, Hashable {
        case namespace(String)
        case apiService(String)
        case node(String)
        case address(IPAddress)
        /// A pod, `pod/NAMESPACE/NAME`: its address comes from the API server.
        case pod(namespace: String, name: String)

        /// Parses `namespace/NAME`, `apiservice/NAME`, `node/NAME`, `pod/NAMESPACE/NAME` or an IP address; nil with
        /// anything else.
        public static func parse(_ text: String) -> Subject? {
            if let address = IPAddress(text) { return .address(address) }
            let pod = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            if pod.count == 3, pod[0].lowercased() == "pod", !pod[1].isEmpty, !pod[2].isEmpty { return .pod(namespace: pod[1], name: pod[2]) }
            let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty, !parts[1].contains("/") else { return nil }
            switch parts[0].lowercased() {
            case "namespace", "ns": return .namespace(parts[1])
            case "apiservice": return .apiService(parts[1])
            case "node": return .node(parts[1])
            default: return nil
            }
        }

        public var text: String {
            switch self {
            case .namespace(let name): return "namespace/\(name)"
            case .apiService(let name): return "apiservice/\(name)"
            case .node(let name): return "node/\(name)"
            case .address(let address): return address.description
            case .pod(let namespace, let name): return "pod/\(namespace)/\(name)"
            }
        }
    }

    /// One step of the chain.
    public struct Step: Sendable, Hashable, Codable {
        /// `symptom`, `apiService`, `route`, `routeController`, `notRoute`, `fix`.
        public var role: String
        public var text: String
        /// The finding the step comes from, when it does.
        public var finding: String?
    }

    public var subject: String
    /// True when something is wrong along the chain (exit 1).
    public var wrong: Bool
    public var steps: [Step]

    /// The chain about `subject` from `findings` (the aggregator's open findings) at `now` (Unix seconds).
    public static func build(_ subject: Subject, findings: [Finding], now: Int64) -> ExplainChain {
        let routeKinds: Set<Finding.Kind> = [.vpcRouteMissing, .vpcRouteWrongNextHop, .kernelRouteMissing, .kernelRouteWrong, .rejectedByRouter, .nodeUnreachable]
        func matches(_ finding: Finding) -> Bool {
            switch subject {
            case .namespace(let name): return finding.symptoms.contains { $0.kind == "Namespace" && $0.name == name }
            case .apiService(let name): return finding.symptoms.contains { $0.kind == "APIService" && $0.name == name }
            case .node(let name): return finding.expectedNextHop?.node == name
            case .address(let address): return finding.cidr?.contains(address) ?? false
            case .pod: return false
            }
        }
        let relevant = findings.filter { (routeKinds.contains($0.kind) || $0.kind == .apiServiceUnavailable) && matches($0) }
            .sorted { ($0.kind.rank, $0.id) < ($1.kind.rank, $1.id) }
        guard let cause = relevant.first else {
            return ExplainChain(subject: subject.text, wrong: false,
                                steps: [Step(role: "none", text: "nothing wrong along the chain: no open finding about \(subject.text)", finding: nil)])
        }
        var steps: [Step] = []
        func age(_ since: Int64?) -> String { since.map { " for \(DurationText.spoken(seconds: now - $0))" } ?? "" }
        // The symptoms, namespaces first (what a person sees), then the APIServices they hang on.
        let namespaces = cause.symptoms.filter { $0.kind == "Namespace" }
        let apiServices = cause.symptoms.filter { $0.kind == "APIService" }
        // A namespace's chain starts at the namespace; the others at the APIService, the node or the address.
        let shown = namespaces.filter { subject == .namespace($0.name) }
        for symptom in shown {
            steps.append(Step(role: "symptom", text: "namespace \(symptom.name) is \(symptom.condition.replacingTerminating(age(symptom.since)))", finding: cause.id))
        }
        if !shown.isEmpty {
            for apiService in apiServices { steps.append(Step(role: "symptom", text: "discovery of \(groupVersion(apiService.name)) fails", finding: cause.id)) }
        }
        let place = cause.cidr.map { " in \($0)" } ?? ""
        let node = cause.expectedNextHop?.text ?? "?"
        for apiService in apiServices {
            let reach = cause.kind == .apiServiceUnavailable ? "" : ": its pod\(place) on \(node) is unreachable from the API server's network"
            steps.append(Step(role: "apiService", text: "\(apiService.name) is \(apiService.condition)\(reach)", finding: cause.id))
        }
        if cause.kind == .apiServiceUnavailable {
            steps.append(Step(role: "notRoute", text: cause.explanation ?? cause.message, finding: cause.id))
        } else {
            let agree = cause.evidence.probing > 0 ? " (\(cause.evidence.agreeing)/\(cause.evidence.probing) sources)" : ""
            steps.append(Step(role: "route", text: routeSentence(cause) + "\(agree)\(age(cause.since))", finding: cause.id))
            // The route controller's own word wins over its silence (both are open while the silent one closes).
            if let watchdog = findings.first(where: { $0.kind == .routeControllerFailing && $0.cidr == cause.cidr })
                ?? findings.first(where: { $0.kind == .routeControllerSilent && $0.cidr == cause.cidr }) {
                let text = watchdog.kind == .routeControllerSilent
                    ? "the route controller has not re-created it\(age(cause.since)) and raised no event"
                    : watchdog.explanation ?? watchdog.message
                steps.append(Step(role: "routeController", text: text, finding: watchdog.id))
            }
        }
        steps.append(Step(role: "fix", text: "fix: " + cause.remediation, finding: cause.id))
        return ExplainChain(subject: subject.text, wrong: true, steps: steps)
    }

    /// `v1beta1.metrics.k8s.io` -> `metrics.k8s.io/v1beta1`.
    static func groupVersion(_ apiService: String) -> String {
        guard let dot = apiService.firstIndex(of: ".") else { return apiService }
        return "\(apiService[apiService.index(after: dot)...])/\(apiService[..<dot])"
    }

    private static func routeSentence(_ finding: Finding) -> String {
        let entry = "\(finding.cidr?.description ?? "?") -> \(finding.expectedNextHop?.text ?? "?")"
        switch finding.kind {
        case .vpcRouteMissing: return "the VPC route entry \(entry) is missing"
        case .vpcRouteWrongNextHop: return "the VPC route entry for \(finding.cidr?.description ?? "?") points to \(finding.actualNextHop?.text ?? "another node") instead of \(finding.expectedNextHop?.text ?? "?")"
        case .nodeUnreachable: return "\(finding.expectedNextHop?.text ?? "the node") answers nothing: it is down or partitioned"
        default: return finding.subject + ": " + entry
        }
    }

    /// The chain about a pod at `address` on `node` (looked up in the API server): the address's chain, with
    /// the pod as its first step.
    public static func build(pod: String, address: IPAddress, node: String?, findings: [Finding], now: Int64) -> ExplainChain {
        var chain = build(.address(address), findings: findings, now: now)
        chain.subject = pod
        guard chain.wrong else {
            chain.steps = [Step(role: "none", text: "nothing wrong along the chain: no open finding about \(pod) (\(address))", finding: nil)]
            return chain
        }
        chain.steps.insert(Step(role: "symptom", text: "\(pod) (\(address)\(node.map { " on \($0)" } ?? "")) is unreachable from other nodes", finding: nil), at: 0)
        return chain
    }

    /// The chain as lines: the first step, then `<- ` before each cause.
    public var text: String {
        steps.enumerated().map { index, step in
            step.role == "fix" || index == 0 ? step.text : "  <- " + step.text
        }.joined(separator: "\n")
    }
}

extension String {
    /// "Terminating (X)" -> "Terminating for 3h12m (X)" when `age` is given.
    fileprivate func replacingTerminating(_ age: String) -> String {
        guard !age.isEmpty, hasPrefix("Terminating") else { return self }
        return "Terminating" + age + dropFirst("Terminating".count)
    }
}
