import Foundation
import Hummingbird
import Synchronization

/// The replay API server's Leases (`coordination.k8s.io/v1`), kept as the API server keeps them: get, create
/// (409 AlreadyExists when it exists), and update only with the current `metadata.resourceVersion` (409
/// Conflict otherwise, with the API server's Status).
final class ReplayLeases: Sendable {
    private struct Stored { var version: Int; var object: Data }
    private let store = Mutex<(objects: [String: Stored], nextVersion: Int)>(([:], 1000))
    /// Updates refused for a stale resourceVersion.
    let conflicts = Mutex(0)
    static let prefix = "/apis/coordination.k8s.io/v1/namespaces/"

    /// Whether this server answers `path`.
    static func handles(_ path: String) -> Bool { path.hasPrefix(prefix) && path.contains("/leases") }

    /// The Lease as stored, decoded (for assertions).
    func lease(_ namespace: String, _ name: String) -> [String: Any]? {
        store.withLock { $0.objects["\(namespace)/\(name)"] }.flatMap { try? JSONSerialization.jsonObject(with: $0.object) as? [String: Any] }
    }

    func answer(method: String, path: String, body: String) -> (HTTPResponse.Status, String) {
        let parts = path.dropFirst(Self.prefix.count).split(separator: "/").map(String.init)   // NS, leases[, NAME]
        guard parts.count >= 2, parts[1] == "leases" else { return (.notFound, Self.status(404, "NotFound", "no such path")) }
        let namespace = parts[0]
        switch (method, parts.count) {
        case ("GET", 3):
            guard let stored = store.withLock({ $0.objects["\(namespace)/\(parts[2])"] }) else {
                return (.notFound, Self.status(404, "NotFound", #"leases.coordination.k8s.io \"\#(parts[2])\" not found"#))
            }
            return (.ok, String(decoding: stored.object, as: UTF8.self))
        case ("POST", 2):
            guard var object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                  var metadata = object["metadata"] as? [String: Any], let name = metadata["name"] as? String else {
                return (.badRequest, Self.status(400, "BadRequest", "the body is not a Lease"))
            }
            return store.withLock { store in
                if store.objects["\(namespace)/\(name)"] != nil {
                    return (.conflict, Self.status(409, "AlreadyExists", #"leases.coordination.k8s.io \"\#(name)\" already exists"#))
                }
                store.nextVersion += 1
                metadata["resourceVersion"] = String(store.nextVersion)
                metadata["namespace"] = namespace
                metadata["uid"] = UUID().uuidString.lowercased()
                object["metadata"] = metadata
                let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
                store.objects["\(namespace)/\(name)"] = Stored(version: store.nextVersion, object: data)
                return (.created, String(decoding: data, as: UTF8.self))
            }
        case ("PUT", 3):
            let name = parts[2]
            guard var object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                  var metadata = object["metadata"] as? [String: Any] else {
                return (.badRequest, Self.status(400, "BadRequest", "the body is not a Lease"))
            }
            let result: (HTTPResponse.Status, String) = store.withLock { store in
                guard let stored = store.objects["\(namespace)/\(name)"] else {
                    return (.notFound, Self.status(404, "NotFound", #"leases.coordination.k8s.io \"\#(name)\" not found"#))
                }
                guard metadata["resourceVersion"] as? String == String(stored.version) else {
                    return (.conflict, Self.status(409, "Conflict", #"Operation cannot be fulfilled on leases.coordination.k8s.io \"\#(name)\": the object has been modified; please apply your changes to the latest version and try again"#))
                }
                store.nextVersion += 1
                metadata["resourceVersion"] = String(store.nextVersion)
                object["metadata"] = metadata
                let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
                store.objects["\(namespace)/\(name)"] = Stored(version: store.nextVersion, object: data)
                return (.ok, String(decoding: data, as: UTF8.self))
            }
            if result.0 == .conflict { conflicts.withLock { $0 += 1 } }
            return result
        default:
            return (.methodNotAllowed, Self.status(405, "MethodNotAllowed", "\(method) \(path)"))
        }
    }

    static func status(_ code: Int, _ reason: String, _ message: String) -> String {
        #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\#(message)","reason":"\#(reason)","code":\#(code)}"#
    }
}
