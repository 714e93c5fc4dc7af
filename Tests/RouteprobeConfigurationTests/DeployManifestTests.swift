import Foundation
import Testing
import Yams
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeTestSupport

/// deploy/: the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate from PyPI), the
/// alert rules with promtool, and what the manifests promise (privileges, tolerations, config that parses).
@Suite("deploy/ manifests")
struct DeployManifestTests {
    static let deploy = packageRoot.appendingPathComponent("deploy")
    /// Manifests of built-in kinds, which kubernetes-validate knows.
    static let builtIn = ["namespace.yaml", "rbac.yaml", "secret.yaml", "configmap.yaml", "agent-daemonset.yaml",
                          "beacon-daemonset.yaml", "aggregator.yaml", "optional/events-rbac.yaml",
                          "optional/node-conditions-rbac.yaml"]

    func documents(_ name: String) throws -> [[String: Any]] {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent(name), encoding: .utf8)
        return try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
    }

    func tool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test("every manifest of a built-in kind passes kubernetes-validate --strict, and a broken one does not")
    func schemas() throws {
        let validator = try #require(tool("kubernetes-validate"), "kubernetes-validate is not installed (scripts/test.sh installs it from PyPI)")
        for name in Self.builtIn {
            let result = try runProgram(validator, ["--strict", "--quiet", Self.deploy.appendingPathComponent(name).path])
            #expect(result.status == 0, "\(name): \(result.standardOutput) \(result.standardError)")
        }
        // The validator is no rubber stamp: a misspelt field in the agent's DaemonSet is refused.
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-broken-daemonset.yaml")
        defer { try? FileManager.default.removeItem(at: broken) }
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("agent-daemonset.yaml"), encoding: .utf8)
        try text.replacingOccurrences(of: "hostNetwork: true", with: "hostNetwrok: true").write(to: broken, atomically: true, encoding: .utf8)
        #expect(try runProgram(validator, ["--strict", "--quiet", broken.path]).status != 0)
    }

    @Test("the PrometheusRule's rules pass promtool check and promtool test rules")
    func alertRules() throws {
        let rule = try #require(try documents("prometheusrule.yaml").first)
        #expect(rule["kind"] as? String == "PrometheusRule")
        let spec = try #require(rule["spec"] as? [String: Any])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-rules-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Yams.dump(object: spec).write(to: directory.appendingPathComponent("rules.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: Self.deploy.appendingPathComponent("alerts/rules.test.yaml"),
                                         to: directory.appendingPathComponent("rules.test.yaml"))
        let check = try runProgram("/usr/bin/promtool", ["check", "rules", directory.appendingPathComponent("rules.yaml").path])
        #expect(check.status == 0, "\(check.standardOutput) \(check.standardError)")
        let test = try runProgram("/usr/bin/promtool", ["test", "rules", directory.appendingPathComponent("rules.test.yaml").path])
        #expect(test.status == 0, "\(test.standardOutput) \(test.standardError)")
        // Every finding kind of the aggregator has an alert.
        let expressions = ((spec["groups"] as? [[String: Any]]) ?? []).flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }
            .compactMap { $0["expr"] as? String }.joined(separator: "\n")
        for kind in Finding.Kind.allCases { #expect(expressions.contains(kind.rawValue), "no alert for \(kind)") }
    }

    @Test("kustomization.yaml lists every manifest, and every listed file exists")
    func kustomization() throws {
        let kustomization = try #require(try documents("kustomization.yaml").first)
        let resources = (kustomization["resources"] as? [String]) ?? []
        for resource in resources { #expect(FileManager.default.fileExists(atPath: Self.deploy.appendingPathComponent(resource).path), "\(resource)") }
        let manifests = try FileManager.default.contentsOfDirectory(atPath: Self.deploy.path)
            .filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" && !$0.hasSuffix(".example.yaml") }
        #expect(Set(manifests) == Set(resources), "listed: \(resources), present: \(manifests)")
    }

    @Test("the agent runs on every node's host network with NET_RAW and NET_ADMIN only; the beacon and aggregator have no capabilities, the aggregator is on its node's network")
    func privileges() throws {
        let agent = try #require(try documents("agent-daemonset.yaml").first)
        let pod = try #require(((agent["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        #expect(pod["hostNetwork"] as? Bool == true)
        #expect((pod["tolerations"] as? [[String: Any]])?.contains { $0["operator"] as? String == "Exists" && $0["key"] == nil } == true)
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        let security = try #require(container["securityContext"] as? [String: Any])
        #expect(security["privileged"] as? Bool == false)
        #expect(security["readOnlyRootFilesystem"] as? Bool == true)
        let capabilities = try #require(security["capabilities"] as? [String: Any])
        #expect(capabilities["drop"] as? [String] == ["ALL"])
        #expect(Set(capabilities["add"] as? [String] ?? []) == ["NET_RAW", "NET_ADMIN"])
        #expect((pod["volumes"] as? [[String: Any]])?.contains { ($0["hostPath"] as? [String: Any])?["path"] as? String == "/dev/log" } == true)
        let limits = (container["resources"] as? [String: Any])?["limits"] as? [String: Any]
        #expect(limits?["memory"] as? String == "64Mi", "above the measured 23 MB peak, with room")

        for name in ["beacon-daemonset.yaml", "aggregator.yaml"] {
            for document in try documents(name) where ["DaemonSet", "Deployment"].contains(document["kind"] as? String ?? "") {
                let spec = try #require(((document["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
                // The beacon lives in the pod network it stands for; the aggregator on the node's network, so
                // that a missing pod-CIDR entry of its own node cannot cut the reports (never blind).
                #expect(spec["hostNetwork"] as? Bool == (name == "aggregator.yaml" ? true : nil), "\(name)")
                if name == "aggregator.yaml" { #expect(spec["dnsPolicy"] as? String == "ClusterFirstWithHostNet") }
                #expect((spec["securityContext"] as? [String: Any])?["runAsNonRoot"] as? Bool == true, "\(name)")
                let drop = ((((spec["containers"] as? [[String: Any]])?.first?["securityContext"]) as? [String: Any])?["capabilities"] as? [String: Any])?["drop"] as? [String]
                #expect(drop == ["ALL"], "\(name)")
            }
        }
    }

    @Test("the ConfigMap's agent config is what routeprobe accepts; the aggregator discovers nodes")
    func configMap() throws {
        let map = try #require(try documents("configmap.yaml").first?["data"] as? [String: String])
        let aggregator = try #require(try documents("aggregator.yaml").first { $0["kind"] as? String == "Deployment" })
        let containers = (((aggregator["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["containers"] as? [[String: Any]]
        #expect((containers?.first?["args"] as? [String])?.contains("--kubernetes") == true)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-agent-\(getpid()).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try #require(map["agent.yaml"]).write(to: file, atomically: true, encoding: .utf8)
        let agent = try AgentSettings.load(path: file.path)
        #expect(agent.aggregator == "https://routeprobe-aggregator.routeprobe.svc:9800")
        #expect(agent.aggregatorCA == "/etc/routeprobe/tls/ca.crt")
        #expect(agent.tokenFile == "/var/run/secrets/routeprobe/token")
        #expect(agent.clusterMap == nil, "agents follow the aggregator's plan")
    }

    @Test("identity and TLS: each agent presents its pod's projected token (audience routeprobe), mounts only the CA; the aggregator serves HTTPS, reviews tokens, and no shared token is left")
    func identityAndTLS() throws {
        let agent = try #require(try documents("agent-daemonset.yaml").first)
        let pod = try #require(((agent["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        let volumes = (pod["volumes"] as? [[String: Any]]) ?? []
        let projected = volumes.first { $0["name"] as? String == "token" }?["projected"] as? [String: Any]
        let source = ((projected?["sources"] as? [[String: Any]])?.first?["serviceAccountToken"]) as? [String: Any]
        #expect(source?["audience"] as? String == "routeprobe" && source?["path"] as? String == "token", "\(volumes)")
        let mounts = ((pod["containers"] as? [[String: Any]])?.first?["volumeMounts"] as? [[String: Any]]) ?? []
        #expect(mounts.contains { $0["name"] as? String == "token" && $0["mountPath"] as? String == "/var/run/secrets/routeprobe" })
        let authority = volumes.first { $0["name"] as? String == "aggregator-ca" }?["secret"] as? [String: Any]
        #expect((authority?["items"] as? [[String: Any]])?.map { $0["key"] as? String } == ["ca.crt"], "agents get the CA, never the key")

        let deployment = try #require(try documents("aggregator.yaml").first { $0["kind"] as? String == "Deployment" })
        let container = try #require(((((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first)
        let args = (container["args"] as? [String]) ?? []
        #expect(args.contains("--tls-cert") && args.contains("--tls-key") && args.contains("--kubernetes"), "\(args)")
        #expect(!args.contains("--allow-shared-token") && !args.contains("--plain-http"), "\(args)")
        #expect(((container["readinessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["scheme"] as? String == "HTTPS")
        // A leader and a standby: leader election, readiness only while leading, never two on one node.
        #expect((deployment["spec"] as? [String: Any])?["replicas"] as? Int == 2)
        #expect(args.contains("--leader-election"), "\(args)")
        #expect(((container["readinessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/readyz")
        #expect((container["env"] as? [[String: Any]])?.contains { $0["name"] as? String == "POD_NAME" } == true)
        let roles = try documents("rbac.yaml").filter { $0["kind"] as? String == "Role" }.flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }
        #expect(roles.contains { ($0["resources"] as? [String]) == ["leases"] && Set(($0["verbs"] as? [String]) ?? []) == ["get", "create", "update"] })
        let rules = try documents("rbac.yaml").filter { $0["kind"] as? String == "ClusterRole" }.flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }
        #expect(rules.contains { ($0["resources"] as? [String]) == ["tokenreviews"] && ($0["verbs"] as? [String]) == ["create"] })
        let secrets = try documents("secret.yaml").compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        #expect(secrets == ["routeprobe-aggregator-tls", "routeprobe-reader-token"])
    }

    @Test("the aggregator's memory limit holds --max-connections open connections: 64 MiB + 64 KiB each (53 KB measured with TLS)")
    func aggregatorMemoryCoversItsConnections() throws {
        let deployment = try #require(try documents("aggregator.yaml").first { $0["kind"] as? String == "Deployment" })
        let container = try #require(((((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first)
        let args = (container["args"] as? [String]) ?? []
        let index = try #require(args.firstIndex(of: "--max-connections"), "without it the default (12,000) would outgrow the limit")
        let connections = try #require(Int(args[index + 1]))
        let limit = try #require(((container["resources"] as? [String: Any])?["limits"] as? [String: Any])?["memory"] as? String)
        let mebibytes = try #require(limit.hasSuffix("Mi") ? Int(limit.dropLast(2)) : limit.hasSuffix("Gi") ? Int(limit.dropLast(2)).map { $0 * 1024 } : nil, "\(limit)")
        #expect(mebibytes * 1024 >= 64 * 1024 + 64 * connections, "\(limit) for \(connections) connections")
        #expect(connections >= 1000, "room for a cluster of real size")
    }
}
