import Foundation
import Yams

/// Where the API server is and how to authenticate: from the pod's service account (in-cluster) or from a
/// kubeconfig file (for the CLI).
public struct KubernetesEndpoint: Sendable, Equatable {
    /// `https://10.96.0.1:443`, or `http+unix://...` in tests.
    public var server: String
    /// A bearer token (service account or kubeconfig user), if any.
    public var token: String?
    /// PEM bytes of the CA that signs the server's certificate; nil: the system's roots.
    public var certificateAuthority: [UInt8]?
    /// PEM client certificate and key (kubeconfig users of kind and kubeadm clusters).
    public var clientCertificate: [UInt8]?
    public var clientKey: [UInt8]?
    /// kubeconfig's `insecure-skip-tls-verify`.
    public var skipVerification: Bool
    /// Built from the pod's service account (so errors point at its files, not at a kubeconfig).
    public var inCluster = false

    /// Builds an endpoint.
    public init(server: String, token: String? = nil, certificateAuthority: [UInt8]? = nil, clientCertificate: [UInt8]? = nil,
                clientKey: [UInt8]? = nil, skipVerification: Bool = false) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.skipVerification = skipVerification
    }

    /// The service account's view: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the token and CA that the kubelet
    /// mounts under `directory`.
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 directory: String = "/var/run/secrets/kubernetes.io/serviceaccount") throws(KubernetesError) -> KubernetesEndpoint {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw KubernetesError.configuration("not in a cluster: KUBERNETES_SERVICE_HOST is not set (use --kubeconfig outside one)")
        }
        let port = environment["KUBERNETES_SERVICE_PORT"] ?? "443"
        guard let token = FileManager.default.contents(atPath: "\(directory)/token") else {
            throw KubernetesError.configuration("cannot read the service account token \(directory)/token")
        }
        guard let authority = FileManager.default.contents(atPath: "\(directory)/ca.crt") else {
            throw KubernetesError.configuration("cannot read the service account CA \(directory)/ca.crt")
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        var endpoint = KubernetesEndpoint(server: "https://\(bracketed):\(port)",
                                          token: String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
                                          certificateAuthority: Array(authority))
        endpoint.inCluster = true
        return endpoint
    }

    /// The current (or the named) context of a kubeconfig file.
    public static func kubeconfig(path: String, context wanted: String? = nil) throws(KubernetesError) -> KubernetesEndpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubernetesError.configuration("cannot read kubeconfig \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let root: [String: Any]
        do {
            guard let loaded = try Yams.load(yaml: text) as? [String: Any] else { throw KubernetesError.configuration("kubeconfig \(path): not a mapping") }
            root = loaded
        } catch let error as KubernetesError {
            throw error
        } catch {
            throw KubernetesError.configuration("kubeconfig \(path): not YAML")
        }
        func named(_ key: String, _ name: String) throws(KubernetesError) -> [String: Any] {
            let list = root[key] as? [[String: Any]] ?? []
            guard let entry = list.first(where: { $0["name"] as? String == name }), let body = entry[String(key.dropLast())] as? [String: Any] else {
                throw KubernetesError.configuration("kubeconfig \(path): no \(key.dropLast()) '\(name)'")
            }
            return body
        }
        guard let contextName = wanted ?? root["current-context"] as? String else {
            throw KubernetesError.configuration("kubeconfig \(path): no current-context (name one with --kube-context)")
        }
        let context = try named("contexts", contextName)
        guard let clusterName = context["cluster"] as? String else { throw KubernetesError.configuration("kubeconfig \(path): context '\(contextName)' names no cluster") }
        let cluster = try named("clusters", clusterName)
        guard let server = cluster["server"] as? String else { throw KubernetesError.configuration("kubeconfig \(path): cluster '\(clusterName)' has no server") }
        let user = try (context["user"] as? String).map { name throws(KubernetesError) in try named("users", name) } ?? [:]
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func bytes(_ dataKey: String, _ fileKey: String, in object: [String: Any]) throws(KubernetesError) -> [UInt8]? {
            if let encoded = object[dataKey] as? String {
                guard let decoded = Data(base64Encoded: encoded) else { throw KubernetesError.configuration("kubeconfig \(path): \(dataKey) is not base64") }
                return Array(decoded)
            }
            if let file = object[fileKey] as? String {
                let resolved = file.hasPrefix("/") ? file : base.appendingPathComponent(file).path
                guard let contents = FileManager.default.contents(atPath: resolved) else { throw KubernetesError.configuration("kubeconfig \(path): cannot read \(resolved)") }
                return Array(contents)
            }
            return nil
        }
        var token = user["token"] as? String
        if token == nil, let file = user["tokenFile"] as? String, let contents = FileManager.default.contents(atPath: file) {
            token = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if user["exec"] != nil || user["auth-provider"] != nil, token == nil {
            throw KubernetesError.configuration("kubeconfig \(path): user of context '\(contextName)' authenticates with an exec plugin or auth provider, which routeprobe does not run; use a token or client certificate")
        }
        return KubernetesEndpoint(server: server, token: token,
                                  certificateAuthority: try bytes("certificate-authority-data", "certificate-authority", in: cluster),
                                  clientCertificate: try bytes("client-certificate-data", "client-certificate", in: user),
                                  clientKey: try bytes("client-key-data", "client-key", in: user),
                                  skipVerification: cluster["insecure-skip-tls-verify"] as? Bool ?? false)
    }
}

/// What went wrong talking to the API server, in one line.
public enum KubernetesError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The configuration (in-cluster files, kubeconfig) is unusable.
    case configuration(String)
    /// The API server answered with an HTTP error.
    case http(status: Int, reason: String)
    /// The resource version is too old (HTTP 410 or a watch ERROR event with code 410): list again.
    case gone(String)
    /// The answer is not what the API promises.
    case malformed(String)
    /// The connection failed; the text says how, as a whole sentence ("cannot reach the API server: ...").
    case transport(String)

    public var description: String {
        switch self {
        case .configuration(let text): return text
        case .http(let status, let reason): return "API server answered HTTP \(status): \(reason)"
        case .gone(let text): return "resource version expired (410 Gone): \(text)"
        case .malformed(let text): return "malformed API answer: \(text)"
        case .transport(let text): return text
        }
    }
}
