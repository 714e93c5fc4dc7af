import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeHTTP
import ServiceLifecycle
import Synchronization

/// The agent's side of the aggregator: registers, keeps the latest probe plan, and posts each round's
/// report. It never blocks a round: the agent hands reports over and reads the plan; when the aggregator is
/// down the agent keeps its last plan, keeps alerting locally, and this link says so once and retries.
public final class AggregatorLink: Sendable {
    /// The aggregator's base URL, e.g. `https://192.168.0.253:9800`.
    public let baseURL: String
    private let token: TokenFileReader
    private let tls: TLSConfiguration
    private let registration: NodeRegistration
    private let plan = Mutex<ProbePlan?>(nil)
    private let reports: AsyncStream<AgentReport>
    private let continuation: AsyncStream<AgentReport>.Continuation
    private let log: @Sendable (String) -> Void

    /// Builds a link; nothing is sent until `run`. The token is read from `tokenPath` again when it changes;
    /// `certificateAuthority` (PEM) is the CA the aggregator's certificate must chain to (nil: the system's).
    public init(baseURL: String, tokenPath: String, certificateAuthority: [UInt8]?, registration: NodeRegistration,
                log: @escaping @Sendable (String) -> Void) throws(TLSFileError) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = TokenFileReader(path: tokenPath, log: log)
        tls = try ClientTLS.configuration(certificateAuthorityPEM: certificateAuthority, source: "--aggregator-ca")
        self.registration = registration
        self.log = log
        // Only the newest report matters: a slow aggregator gets the latest round, not a backlog.
        (reports, continuation) = AsyncStream.makeStream(of: AgentReport.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The latest plan, nil until the first registration succeeds.
    public var currentPlan: ProbePlan? { plan.withLock { $0 } }

    /// Hands over a round's report (called from the agent's thread).
    public func submit(_ report: AgentReport) { continuation.yield(report) }

    /// Registers, then posts reports as they come, until graceful shutdown.
    public func run() async {
        await cancelWhenGracefulShutdown { await self.loop() }
    }

    private func loop() async {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        // A connection that fails fails the request at once, with its reason; this loop has its own backoff.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let explain: (any Error) -> String = { error in
            TransportProblem.describe(error, server: "the aggregator", trustHint: "give --aggregator-ca the CA that signed it")
        }
        var registered = false
        var problem: String? = nil
        var backoff: Duration = .seconds(1)
        func trouble(_ text: String?) {
            if text != problem {
                if let text { log("aggregator \(baseURL): \(text); probing and local alerts go on\(currentPlan == nil ? "" : " with the last plan")") }
                else { log("aggregator \(baseURL) reachable again") }
            }
            problem = text
        }
        var gate = PlanGate()
        /// Takes `newPlan` when the gate lets it through; says so either way.
        func offer(_ newPlan: ProbePlan, _ what: String) {
            let current = self.currentPlan
            if gate.adopt(newPlan, over: current) {
                self.plan.withLock { $0 = newPlan }
                self.log("\(what): \(Self.describe(newPlan))")
            } else if let current {
                self.log(PlanGate.reason(newPlan, over: current))
            }
        }
        var iterator = reports.makeAsyncIterator()
        while !Task.isCancelled {
            if !registered {
                do {
                    let newPlan: ProbePlan = try await self.send(client, method: .POST, path: "/api/v1/register", body: self.registration)
                    registered = true
                    backoff = .seconds(1)
                    offer(newPlan, "registered with the aggregator \(self.baseURL)")
                    trouble(nil)
                } catch {
                    if Task.isCancelled { break }
                    if case LinkError.status(401, _) = error { token.expire() }
                    trouble("cannot register (\(explain(error)))")
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(30))
                    continue
                }
            }
            guard let report = await iterator.next() else { break }
            do {
                var stamped = report
                stamped.planGeneration = self.currentPlan?.generation
                let answer: ReportAnswer = try await self.send(client, method: .POST, path: "/api/v1/reports", body: stamped)
                trouble(nil)
                if answer.planGeneration != self.currentPlan?.generation {
                    let newPlan: ProbePlan = try await self.send(client, method: .GET, path: "/api/v1/plan/\(self.registration.node)", body: String?.none)
                    offer(newPlan, "new probe plan")
                }
            } catch LinkError.status(404, _) {
                registered = false
            } catch LinkError.status(401, let reason) {
                // The token may have rotated since it was last read: read it before the next request.
                token.expire()
                trouble("cannot post reports (HTTP 401: the aggregator refused the token: \(reason))")
            } catch {
                if Task.isCancelled { break }
                trouble("cannot post reports (\(explain(error)))")
            }
        }
        try? await client.shutdown()
    }

    private static func describe(_ plan: ProbePlan) -> String {
        if plan.probeNodes.isEmpty { return "nothing to probe yet (no other node registered)" }
        return "probing \(plan.probeNodes.count) node\(plan.probeNodes.count == 1 ? "" : "s") (\(plan.probeNodes.joined(separator: ", ")))"
    }

    private struct ReportAnswer: Decodable { var planGeneration: UInt64 }

    enum LinkError: Error, CustomStringConvertible {
        case status(Int, String)
        case malformed(String)

        var description: String {
            switch self {
            case .status(401, let reason): return "HTTP 401: the aggregator refused the token: \(reason)"
            case .status(let code, let reason): return "HTTP \(code): \(reason)"
            case .malformed(let what): return "malformed answer: \(what)"
            }
        }
    }

    private func send<Body: Encodable, Answer: Decodable>(_ client: HTTPClient, method: HTTPMethod, path: String, body: Body?) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token.current())")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        let response = try await client.execute(request, timeout: .seconds(5))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let data = Data(bytes.readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            let reason = (try? JSONInput.decode([String: String].self, from: data))?["error"] ?? response.status.reasonPhrase
            throw LinkError.status(Int(response.status.code), reason)
        }
        do { return try JSONInput.decode(Answer.self, from: data) } catch {
            throw LinkError.malformed("\(error)".split(separator: "\n").first.map(String.init) ?? "not JSON")
        }
    }
}

/// The link as a ServiceLifecycle service.
public struct AggregatorLinkService: Service {
    private let link: AggregatorLink

    /// Wraps a link.
    public init(link: AggregatorLink) { self.link = link }

    public func run() async throws { await link.run() }
}
