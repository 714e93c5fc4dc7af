import Synchronization

/// Says each API problem once, however many resources it hits: five reflectors that cannot reach the API
/// server make one line, not five, and one more when every resource is fine again.
public final class KubernetesProblemLog: Sendable {
    private let log: @Sendable (String) -> Void
    /// The problem each resource has now.
    private let current = Mutex<[String: String]>([:])
    /// Skipped parts already said.
    private let said = Mutex<Set<String>>([])

    public init(log: @escaping @Sendable (String) -> Void) { self.log = log }

    /// `resource` failed with `description`; said unless another resource has said the same already.
    public func failed(_ resource: String, _ description: String) {
        let new = current.withLock { current -> Bool in
            defer { current[resource] = description }
            return current[resource] != description && !current.values.contains(description)
        }
        if new { log("\(description); retrying") }
    }

    /// An object part that cannot be read and is skipped ("node node-b: 1 malformed condition"): said once.
    public func skipped(_ what: String) {
        let new = said.withLock { $0.insert(what).inserted }
        if new { log("\(what) skipped") }
    }

    /// `resource` works again; when no resource has a problem left, that is said once.
    public func recovered(_ resource: String) {
        let allClear = current.withLock { current -> Bool in
            guard current.removeValue(forKey: resource) != nil else { return false }
            return current.isEmpty
        }
        if allClear { log("the API server answers again") }
    }
}
