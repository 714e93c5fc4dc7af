import RouteprobeConfiguration
import RouteprobeSystem
import Synchronization

/// The agent's bearer token, read from its file again every minute and after the aggregator refuses it: the
/// kubelet rotates a projected ServiceAccount token in place, long before it expires. A file that cannot be
/// read keeps the last token and is said once.
final class TokenFileReader: Sendable {
    let path: String
    private let log: @Sendable (String) -> Void
    private struct Cached { var token: String; var readAt: UInt64?; var problem: String? }
    private let cached = Mutex(Cached(token: "", readAt: nil, problem: nil))
    private static let rereadAfter: UInt64 = 60_000_000_000

    init(path: String, log: @escaping @Sendable (String) -> Void) {
        self.path = path
        self.log = log
    }

    /// The token to send now.
    func current() -> String {
        let now = MonotonicClock.nanoseconds()
        return cached.withLock { cached in
            if let readAt = cached.readAt, now - readAt < Self.rereadAfter { return cached.token }
            cached.readAt = now
            do throws(ConfigurationError) {
                cached.token = try BearerTokenFile.read(path)
                cached.problem = nil
            } catch {
                if cached.problem != error.description { log("\(error.description); sending the last token read") }
                cached.problem = error.description
            }
            return cached.token
        }
    }

    /// Reads the file again before the next request.
    func expire() { cached.withLock { $0.readAt = nil } }
}
