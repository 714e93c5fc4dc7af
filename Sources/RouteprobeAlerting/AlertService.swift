// The one alert path: both roles hand it the findings that opened and resolved; it owns the severity and
// the sentence (SyslogMessage.alert), the rate limit and the syslog sinks (SyslogSender), and the
// "opened/resolved" log line. It runs as a Service: alerts are sent from its own task, never from a round.
import RouteprobeCore
import RouteprobeSystem
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Sends every finding that opens or resolves to syslog and logs it, in the order handed over.
public final class AlertService: Service, Sendable {
    private let destination: SyslogDestination
    private let namespace: NetworkNamespace?
    private let hostname: String
    private let log: @Sendable (String) -> Void
    private let goesOn: String
    private let stream: AsyncStream<FindingEvent>
    private let continuation: AsyncStream<FindingEvent>.Continuation
    private let delivered = Mutex(0)

    /// Builds the alert path.
    /// - Parameters:
    ///   - destination: the syslog sink.
    ///   - hostname: the HOSTNAME of every message (the node's name, or the aggregator's host).
    ///   - namespace: UDP and TCP sinks are reached from this network namespace.
    ///   - goesOn: what carries on when alerts cannot be delivered ("probing goes on").
    ///   - log: one line per finding that opens or resolves, and per change in delivery.
    public init(destination: SyslogDestination, hostname: String, namespace: NetworkNamespace? = nil,
                goesOn: String, log: @escaping @Sendable (String) -> Void) {
        self.destination = destination
        self.hostname = hostname
        self.namespace = namespace
        self.goesOn = goesOn
        self.log = log
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// Hands over what opened and resolved; returns at once.
    public func send(_ events: [FindingEvent]) {
        for event in events { continuation.yield(event) }
    }

    /// Messages handed to the syslog socket so far.
    public var deliveredCount: Int { delivered.withLock { $0 } }

    /// Sends until graceful shutdown, then sends what was handed over before it and returns.
    public func run() async throws {
        let sender = SyslogSender(destination: destination, namespace: namespace)
        let log = self.log, goesOn = self.goesOn
        sender.onDeliveryChange = { problem in
            log(problem.map { "alerts are not delivered: \($0); \(goesOn)" } ?? "alerts are delivered again")
        }
        let continuation = self.continuation
        await withGracefulShutdownHandler {
            for await event in stream {
                let finding = event.finding
                let now = WallClock.now()
                let message = SyslogMessage.alert(for: finding, resolved: event.isResolution, hostname: hostname,
                                                  processID: String(getpid()), seconds: now.seconds, microseconds: now.microseconds)
                log("\(event.isResolution ? "resolved" : "opened") \(finding.id): \(message.message)")
                if sender.send(message) { delivered.withLock { $0 += 1 } }
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
    }
}
