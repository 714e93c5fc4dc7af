import Synchronization

/// Keeps a local copy of one resource: lists it, then watches from the list's resource version; a bookmark
/// moves the version on, a 410 Gone lists again, any other failure waits (1 s doubling to 30 s) and lists
/// again. After the list and after every event, `onChange` gets the whole current set.
public final class ResourceReflector<Object: KubernetesObject>: Sendable {
    private let client: KubernetesClient
    private let resource: KubernetesResource<Object>
    private let onChange: @Sendable ([Object]) -> Void
    private let log: @Sendable (String) -> Void
    private let problems: KubernetesProblemLog
    private let state = Mutex<(items: [String: Object], lists: Int, version: String)>(([:], 0, ""))

    /// Builds a reflector; objects are identified by namespace/name. Reflectors that share `problems` say a
    /// problem they have in common once.
    public init(client: KubernetesClient, resource: KubernetesResource<Object>,
                onChange: @escaping @Sendable ([Object]) -> Void, log: @escaping @Sendable (String) -> Void,
                problems: KubernetesProblemLog? = nil) {
        self.client = client
        self.resource = resource
        self.onChange = onChange
        self.log = log
        self.problems = problems ?? KubernetesProblemLog(log: log)
    }

    /// How many times it listed (1 + relists), and the resource version it holds.
    public var progress: (lists: Int, resourceVersion: String) { state.withLock { ($0.lists, $0.version) } }

    /// The objects held now.
    public var items: [Object] { state.withLock { Array($0.items.values) } }

    /// Lists and watches until the task is cancelled.
    public func run() async {
        var backoff: Duration = .seconds(1)
        while !Task.isCancelled {
            do throws(KubernetesError) {
                let (items, version) = try await client.list(resource)
                let all = state.withLock { state -> [Object] in
                    state.items = Dictionary(items.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
                    state.lists += 1
                    state.version = version
                    return Array(state.items.values)
                }
                onChange(all)
                problems.recovered(resource.name)
                backoff = .seconds(1)
                while !Task.isCancelled {
                    let from = state.withLock { $0.version }
                    try await client.watch(resource, from: from) { event in apply(event) }
                }
            } catch {
                // A stop cancels the list or watch under way: that is no error to report.
                if Task.isCancelled { return }
                if case .gone = error { continue }
                problems.failed(resource.name, error.description)
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(30))
            }
        }
    }

    private func apply(_ event: KubernetesClient.WatchEvent<Object>) {
        let all = state.withLock { state -> [Object]? in
            switch event {
            case .added(let object), .modified(let object):
                state.items[object.key] = object
                if let version = object.metadata.resourceVersion { state.version = version }
            case .deleted(let object):
                state.items[object.key] = nil
                if let version = object.metadata.resourceVersion { state.version = version }
            case .bookmark(let version):
                state.version = version
                return nil
            }
            return Array(state.items.values)
        }
        if let all { onChange(all) }
    }
}
