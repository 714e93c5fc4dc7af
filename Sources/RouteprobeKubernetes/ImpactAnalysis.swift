import RouteprobeCore

/// A pod address the control plane depends on: an APIService's or an admission webhook's backend.
public struct CriticalTarget: Sendable, Hashable, Codable {
    /// What the API server reaches the target for.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// An aggregated API's backend (an APIService with a Service).
        case apiService = "APIService"
        /// A validating admission webhook's backend.
        case validatingWebhook = "ValidatingWebhook"
        /// A mutating admission webhook's backend.
        case mutatingWebhook = "MutatingWebhook"
    }

    /// What kind of dependency.
    public var kind: Kind
    /// The APIService's name (`v1beta1.metrics.k8s.io`) or the webhook's (`validate.kyverno.svc`).
    public var name: String
    /// The Service behind it, `namespace/name`.
    public var service: String
    /// One ready endpoint address of that Service, its port, the node it runs on and that node's pod CIDR.
    public var address: IPAddress
    public var port: Int?
    public var node: String?
    public var cidr: IPPrefix?
    /// What stops working when the API server cannot reach it.
    public var consequence: String

    /// Builds a target.
    public init(kind: Kind, name: String, service: String, address: IPAddress, port: Int?, node: String?, cidr: IPPrefix?,
                consequence: String) {
        self.kind = kind
        self.name = name
        self.service = service
        self.address = address
        self.port = port
        self.node = node
        self.cidr = cidr
        self.consequence = consequence
    }

    /// "v1beta1.metrics.k8s.io is unreachable from the API server's network: <consequence>".
    public var sentence: String { "\(name) is unreachable from the API server's network: \(consequence)" }
}

/// APIService -> Service -> EndpointSlice -> pod IP -> node -> pod CIDR: which control-plane functions hang on
/// which pod CIDRs ("what it breaks").
public enum ImpactAnalysis {
    /// Every ready endpoint of every Service-backed APIService and admission webhook.
    public static func criticalTargets(apiServices: [Kubernetes.APIService], validating: [Kubernetes.WebhookConfiguration],
                                       mutating: [Kubernetes.WebhookConfiguration], slices: [Kubernetes.EndpointSlice],
                                       cluster: ClusterMap) -> [CriticalTarget] {
        var slicesByService: [String: [Kubernetes.EndpointSlice]] = [:]
        for slice in slices {
            guard let service = slice.serviceName, let namespace = slice.metadata.namespace else { continue }
            slicesByService["\(namespace)/\(service)", default: []].append(slice)
        }
        func targets(kind: CriticalTarget.Kind, name: String, service: Kubernetes.ServiceReference, consequence: String) -> [CriticalTarget] {
            let key = "\(service.namespace)/\(service.name)"
            var result: [CriticalTarget] = []
            var seen = Set<IPAddress>()
            for slice in slicesByService[key] ?? [] where slice.addressType == "IPv4" || slice.addressType == "IPv6" {
                let port = slice.ports?.first?.port
                for endpoint in slice.endpoints ?? [] where endpoint.conditions?.ready ?? true {
                    for text in endpoint.addresses {
                        guard let address = IPAddress(text), seen.insert(address).inserted else { continue }
                        let owner = cluster.owner(of: address)
                        result.append(CriticalTarget(kind: kind, name: name, service: key, address: address, port: port,
                                                     node: endpoint.nodeName ?? owner?.name,
                                                     cidr: owner?.podCIDRs.first { $0.contains(address) }, consequence: consequence))
                    }
                }
            }
            return result
        }
        var result: [CriticalTarget] = []
        for apiService in apiServices.sorted(by: { $0.metadata.name < $1.metadata.name }) {
            guard let service = apiService.spec.service else { continue }
            result += targets(kind: .apiService, name: apiService.metadata.name, service: service,
                              consequence: consequence(group: apiService.spec.group ?? "", version: apiService.spec.version ?? ""))
        }
        for (kind, configurations) in [(CriticalTarget.Kind.validatingWebhook, validating), (.mutatingWebhook, mutating)] {
            for configuration in configurations.sorted(by: { $0.metadata.name < $1.metadata.name }) {
                for webhook in configuration.webhooks ?? [] {
                    guard let service = webhook.clientConfig.service else { continue }
                    result += targets(kind: kind, name: webhook.name, service: service,
                                      consequence: webhookConsequence(kind: kind, failurePolicy: webhook.failurePolicy))
                }
            }
        }
        return result
    }

    /// What fails when an aggregated API is unreachable. Every unavailable APIService also breaks API
    /// discovery, which the namespace controller needs to delete namespaces.
    public static func consequence(group: String, version: String) -> String {
        switch group {
        case "metrics.k8s.io":
            return "namespace deletion will hang in Terminating and HPA stops scaling (kubectl top fails too)"
        case "custom.metrics.k8s.io", "external.metrics.k8s.io":
            return "namespace deletion will hang in Terminating and HPAs on \(group == "custom.metrics.k8s.io" ? "custom" : "external") metrics stop scaling"
        default:
            return "namespace deletion will hang in Terminating and every request to \(group)/\(version) fails"
        }
    }

    /// What fails when an admission webhook is unreachable, by its failure policy (the API's default is Fail).
    public static func webhookConsequence(kind: CriticalTarget.Kind, failurePolicy: String?) -> String {
        let verb = kind == .mutatingWebhook ? "mutates" : "validates"
        if failurePolicy == "Ignore" {
            return "the objects it \(verb) are admitted without it (failurePolicy Ignore), after the API server's timeout"
        }
        return "creating or updating the objects it \(verb) fails (failurePolicy Fail)"
    }

    /// The sentences of the critical targets that lie in `cidr` (or run on `node`), one per APIService or webhook.
    public static func impacts(of targets: [CriticalTarget], cidr: IPPrefix?, node: String?) -> [String] {
        var seen = Set<String>()
        var sentences: [String] = []
        for target in targets {
            let hit = (cidr.map { $0.contains(target.address) } ?? false) || (node != nil && target.node == node && cidr == nil)
            if hit, seen.insert(target.name).inserted { sentences.append(target.sentence) }
        }
        return sentences
    }
}
