import RouteprobeCore

extension Kubernetes {
    /// A Namespace: its phase and, while it is Terminating, why deletion is stuck.
    public struct Namespace: Sendable, Hashable, Codable {
        public struct Status: Sendable, Hashable, Codable {
            public var phase: String?
            public var conditions: [Condition]?
            /// Conditions that could not be read (skipped, not fatal to the list).
            public var skippedConditions = 0

            enum CodingKeys: String, CodingKey { case phase, conditions }

            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                phase = try container.decodeIfPresent(String.self, forKey: .phase)
                (conditions, skippedConditions) = try Condition.lenient(container, .conditions)
            }
        }
        public var metadata: ObjectMeta
        public var status: Status?
    }
}

/// A symptom the cluster shows, and the APIServices it hangs on (their names), so that it can be linked to the
/// finding whose pod CIDR holds their backends.
public struct ClusterSymptom: Sendable, Hashable {
    public var symptom: Finding.Symptom
    /// APIService names (`v1beta1.metrics.k8s.io`) this symptom comes from.
    public var apiServices: [String]

    public init(symptom: Finding.Symptom, apiServices: [String]) {
        self.symptom = symptom
        self.apiServices = apiServices
    }
}

/// Reads the symptoms of the seed incident's first steps from the API objects: APIServices whose Available
/// condition is False, and namespaces stuck Terminating because discovery of a group/version fails.
public enum SymptomAnalysis {
    /// The namespace conditions that say deletion is stuck, and why.
    public static let namespaceConditions: Set<String> = ["NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                                                          "NamespaceContentRemaining"]

    /// Every unavailable APIService and every Terminating namespace with a deletion-failure condition that is True.
    public static func symptoms(apiServices: [Kubernetes.APIService], namespaces: [Kubernetes.Namespace]) -> [ClusterSymptom] {
        var result: [ClusterSymptom] = []
        let serviceBacked = Set(apiServices.filter { $0.spec.service != nil }.map(\.metadata.name))
        for apiService in apiServices.sorted(by: { $0.metadata.name < $1.metadata.name }) {
            guard let available = apiService.available, available.status == "False" else { continue }
            let condition = "Available=False" + (available.reason.map { " (\($0))" } ?? "")
            result.append(ClusterSymptom(
                symptom: .init(kind: "APIService", name: apiService.metadata.name, condition: condition, message: available.message ?? "",
                               since: available.lastTransitionTime.flatMap(KubernetesTime.seconds)),
                apiServices: [apiService.metadata.name]))
        }
        for namespace in namespaces.sorted(by: { $0.metadata.name < $1.metadata.name }) where namespace.status?.phase == "Terminating" {
            for condition in namespace.status?.conditions ?? [] where namespaceConditions.contains(condition.type) && condition.status == "True" {
                let message = condition.message ?? ""
                let named = groupVersions(in: message).map { "\($0.version).\($0.group)" }.filter { serviceBacked.contains($0) }
                result.append(ClusterSymptom(
                    symptom: .init(kind: "Namespace", name: namespace.metadata.name, condition: "Terminating (\(condition.type))", message: message,
                                   since: condition.lastTransitionTime.flatMap(KubernetesTime.seconds)),
                    apiServices: named))
            }
        }
        return result
    }

    /// The `group/version` pairs a condition message names ("metrics.k8s.io/v1beta1: the server is currently
    /// unable to handle the request"); a version starts with v and a digit.
    public static func groupVersions(in message: String) -> [(group: String, version: String)] {
        var found: [(group: String, version: String)] = []
        let separators: Set<Character> = [" ", ",", ";", ":", "[", "]", "(", ")", "\"", "'"]
        for word in message.split(whereSeparator: { separators.contains($0) }) {
            let parts = word.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].contains("."), parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }),
                  parts[1].first == "v", parts[1].dropFirst().first?.isNumber == true,
                  parts[1].allSatisfy({ $0.isLetter || $0.isNumber }) else { continue }
            let pair = (group: String(parts[0]).lowercased(), version: String(parts[1]))
            if !found.contains(where: { $0 == pair }) { found.append(pair) }
        }
        return found
    }
}
