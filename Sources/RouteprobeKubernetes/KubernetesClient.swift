import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import RouteprobeCore
import RouteprobeHTTP

/// A small typed client of the Kubernetes API on AsyncHTTPClient: paged lists and watches with bookmarks.
/// No kubectl, no code generation: the objects are the subsets in `Kubernetes`.
public final class KubernetesClient: Sendable {
    /// The API server and credentials.
    public let endpoint: KubernetesEndpoint
    private let http: HTTPClient

    /// Builds a client (TLS trusts the endpoint's CA, and presents its client certificate if it has one).
    public init(endpoint: KubernetesEndpoint) throws(KubernetesError) {
        self.endpoint = endpoint
        var tls: TLSConfiguration
        do throws(TLSFileError) {
            tls = try ClientTLS.configuration(certificateAuthorityPEM: endpoint.certificateAuthority, source: "the API server's CA (certificate-authority)")
        } catch {
            throw KubernetesError.configuration(error.description)
        }
        if let certificate = endpoint.clientCertificate, let key = endpoint.clientKey {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            } catch {
                throw KubernetesError.configuration("the kubeconfig's client-certificate or client-key is not a PEM certificate and key")
            }
        }
        if endpoint.skipVerification { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(330))
        // A connection that fails fails the request at once, with its reason (an untrusted certificate, a
        // refused connection); the callers retry with their own backoff and say the reason once.
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections.
    public func shutdown() async { try? await http.shutdown() }

    private func request(_ pathAndQuery: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: endpoint.server + pathAndQuery)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "routeprobe")
        if let token = endpoint.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    private func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws(KubernetesError) -> HTTPClientResponse {
        let response: HTTPClientResponse
        do { response = try await http.execute(request, timeout: timeout) } catch {
            throw KubernetesError.transport(describeTransport(error))
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let body = try? await response.body.collect(upTo: 1 << 16)
            let message = body.flatMap { try? JSONInput.decode(Kubernetes.Status.self, from: Data($0.readableBytesView)) }?.message
            if status == 410 { throw KubernetesError.gone(message ?? response.status.reasonPhrase) }
            throw KubernetesError.http(status: status, reason: message ?? response.status.reasonPhrase)
        }
        return response
    }

    /// Every object of a resource (following `continue` tokens, 500 a page) and the list's resource version.
    public func list<Object>(_ resource: KubernetesResource<Object>) async throws(KubernetesError) -> (items: [Object], resourceVersion: String) {
        var items: [Object] = []
        var continueToken: String? = nil
        var version = ""
        repeat {
            var query = "?limit=500"
            if let token = continueToken { query += "&continue=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token) }
            let response = try await execute(request(resource.path + query + resource.selectorQuery), timeout: .seconds(60))
            let body: ByteBuffer
            do { body = try await response.body.collect(upTo: 256 << 20) } catch { throw KubernetesError.transport(describeTransport(error)) }
            let page: Kubernetes.List<Object>
            do { page = try JSONInput.decode(Kubernetes.List<Object>.self, from: Data(body.readableBytesView)) } catch {
                throw KubernetesError.malformed("\(resource.name) list: \(Self.describe(error))")
            }
            items += page.items
            version = page.metadata.resourceVersion ?? ""
            continueToken = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
        } while continueToken != nil
        guard !version.isEmpty else { throw KubernetesError.malformed("\(resource.name) list has no metadata.resourceVersion") }
        return (items, version)
    }

    /// POSTs `body` to `path` and decodes the answer (a TokenReview's status comes back this way).
    public func post<Body: Encodable, Answer: Decodable>(_ body: Body, at path: String, answer: Answer.Type) async throws(KubernetesError) -> Answer {
        try await send(.POST, body, at: path, answer: answer)
    }

    /// PATCHes `path` with `body` of `contentType` (a strategic merge patch of a Node's status, say).
    public func patch<Body: Encodable>(_ body: Body, at path: String, contentType: String) async throws(KubernetesError) {
        let response = try await send(.PATCH, body, at: path, contentType: contentType)
        _ = try? await response.body.collect(upTo: 1 << 20)
    }

    /// PUTs `body` (a whole object with its `metadata.resourceVersion`) to `path`; a stale version is
    /// `.http(status: 409, ...)`.
    public func put<Body: Encodable, Answer: Decodable>(_ body: Body, at path: String, answer: Answer.Type) async throws(KubernetesError) -> Answer {
        try await send(.PUT, body, at: path, answer: answer)
    }

    private func send<Body: Encodable, Answer: Decodable>(_ method: HTTPMethod, _ body: Body, at path: String, answer: Answer.Type) async throws(KubernetesError) -> Answer {
        try await decode(answer, from: try await send(method, body, at: path, contentType: "application/json"), what: path)
    }

    /// Sends `body` as JSON with `method`; the response of a success.
    private func send<Body: Encodable>(_ method: HTTPMethod, _ body: Body, at path: String, contentType: String) async throws(KubernetesError) -> HTTPClientResponse {
        var request = request(path)
        request.method = method
        request.headers.add(name: "Content-Type", value: contentType)
        do { request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body))) } catch {
            throw KubernetesError.malformed("cannot encode the body for \(path)")
        }
        return try await execute(request, timeout: .seconds(10))
    }

    /// GETs one object.
    public func get<Object: Decodable>(_ type: Object.Type, at path: String) async throws(KubernetesError) -> Object {
        try await decode(type, from: try await execute(request(path), timeout: .seconds(10)), what: path)
    }

    private func decode<Object: Decodable>(_ type: Object.Type, from response: HTTPClientResponse, what: String) async throws(KubernetesError) -> Object {
        let body: ByteBuffer
        do { body = try await response.body.collect(upTo: 4 << 20) } catch { throw KubernetesError.transport(describeTransport(error)) }
        do { return try JSONInput.decode(type, from: Data(body.readableBytesView)) } catch {
            throw KubernetesError.malformed("\(what): \(Self.describe(error))")
        }
    }

    /// One event of a watch.
    public enum WatchEvent<Object: Sendable>: Sendable {
        case added(Object)
        case modified(Object)
        case deleted(Object)
        /// A bookmark: nothing changed up to this resource version.
        case bookmark(resourceVersion: String)
    }

    private struct EventHead: Decodable {
        struct Head: Decodable {
            struct Meta: Decodable { var resourceVersion: String? }
            var metadata: Meta?
        }
        var type: String
        var object: Head?
    }
    private struct FullEvent<Object: Decodable>: Decodable { var object: Object }

    /// Watches a resource from `resourceVersion` (with bookmarks) and calls `handle` for each event, in order,
    /// until the server ends the watch (normal: it does so every few minutes). A 410 (as an HTTP status or as
    /// an `ERROR` event) throws `.gone`: list again.
    public func watch<Object>(_ resource: KubernetesResource<Object>, from resourceVersion: String, timeoutSeconds: Int = 300,
                              handle: (WatchEvent<Object>) async -> Void) async throws(KubernetesError) {
        let query = "?watch=1&allowWatchBookmarks=true&timeoutSeconds=\(timeoutSeconds)&resourceVersion=" + resourceVersion
        let response = try await execute(request(resource.path + query + resource.selectorQuery), timeout: .seconds(Int64(timeoutSeconds + 30)))
        var pending: [UInt8] = []
        do {
            for try await chunk in response.body {
                pending += chunk.readableBytesView
                if pending.count > 64 << 20 { throw KubernetesError.malformed("\(resource.name) watch: an event over 64 MiB") }
                while let newline = pending.firstIndex(of: 10) {
                    let line = Array(pending[..<newline])
                    pending.removeSubrange(...newline)
                    if line.allSatisfy({ $0 == 32 || $0 == 13 }) { continue }
                    await handle(try Self.decodeEvent(line, resource: resource))
                }
            }
        } catch let error as KubernetesError {
            throw error
        } catch {
            throw KubernetesError.transport(describeTransport(error))
        }
    }

    static func decodeEvent<Object>(_ line: [UInt8], resource: KubernetesResource<Object>) throws(KubernetesError) -> WatchEvent<Object> {
        let data = Data(line)
        let head: EventHead
        do { head = try JSONInput.decode(EventHead.self, from: data) } catch {
            throw KubernetesError.malformed("\(resource.name) watch event: \(describe(error))")
        }
        func object() throws(KubernetesError) -> Object {
            do { return try JSONInput.decode(FullEvent<Object>.self, from: data).object } catch {
                throw KubernetesError.malformed("\(resource.name) watch \(head.type) event: \(describe(error))")
            }
        }
        switch head.type {
        case "ADDED": return .added(try object())
        case "MODIFIED": return .modified(try object())
        case "DELETED": return .deleted(try object())
        case "BOOKMARK":
            guard let version = head.object?.metadata?.resourceVersion else { throw KubernetesError.malformed("\(resource.name) watch BOOKMARK without a resourceVersion") }
            return .bookmark(resourceVersion: version)
        case "ERROR":
            let status = (try? JSONInput.decode(FullEvent<Kubernetes.Status>.self, from: data))?.object
            if status?.code == 410 { throw KubernetesError.gone(status?.message ?? "watch ERROR 410") }
            throw KubernetesError.http(status: status?.code ?? 0, reason: status?.message ?? "watch ERROR event")
        default:
            throw KubernetesError.malformed("\(resource.name) watch event of unknown type '\(head.type)'")
        }
    }

    static func describe(_ error: any Error) -> String { DecodingProblem.describe(error) }

    /// A transport error in words, with what to do about an untrusted certificate here.
    private func describeTransport(_ error: any Error) -> String {
        let hint = endpoint.inCluster
            ? "the pod's service-account ca.crt does not match the API server's certificate"
            : "set certificate-authority-data (or certificate-authority) in the kubeconfig"
        return TransportProblem.describe(error, server: "the API server", trustHint: hint)
    }
}

extension KubernetesResource {
    /// `&fieldSelector=...`, percent-encoded, or nothing.
    var selectorQuery: String {
        guard let fieldSelector else { return "" }
        return "&fieldSelector=" + (fieldSelector.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._"))) ?? fieldSelector)
    }
}
