import Foundation
import Hummingbird
import NIOCore
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeSystem

/// The aggregator's HTTP API:
/// - `POST /api/v1/register` (NodeRegistration) -> the node's ProbePlan
/// - `GET /api/v1/plan/{node}` -> the node's ProbePlan
/// - `POST /api/v1/reports` (AgentReport) -> 202 `{"planGeneration": N}`, 404 when the node must register again
/// - `GET /api/v1/findings` -> `{"findings": [...]}`; `GET /api/v1/matrix` -> sources x pod CIDRs
/// - `GET /metrics`, `GET /healthz`, `GET /` (the page)
/// Everything under /api/v1 needs `Authorization: Bearer TOKEN`; errors are `{"error": "reason"}`.
enum AggregatorRoutes {
    static func router(state: AggregatorState, metrics: AggregatorMetrics, configuration: AggregatorConfiguration,
                       leadership: Leadership) -> Router<AggregatorRequestContext> {
        let router = Router(context: AggregatorRequestContext.self)
        let limit = configuration.maximumBodyBytes
        router.get("/healthz") { _, _ in
            let counts = state.counts
            return json(["status": "ok", "role": leadership.isLeader ? "leader" : "standby", "registered": counts.registered,
                         "reporting": counts.reporting] as [String: any Sendable])
        }
        // Readiness: only the leader is ready, so the Service sends agents to it alone.
        router.get("/readyz") { _, _ in
            leadership.isLeader ? json(["status": "leader"] as [String: any Sendable])
                : json(["status": "standby", "error": leadership.standbyReason] as [String: any Sendable], status: .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        router.get("/") { _, _ in
            let matrix = state.matrix(now: MonotonicClock.nanoseconds())
            let page = AggregatorPage.render(findings: state.findings, sources: matrix.sources, cidrs: matrix.cidrs, cells: matrix.cells,
                                             counts: state.counts)
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: page)))
        }

        let credentials = configuration.credentials
        let api = router.group("api/v1").add(middleware: StandbyMiddleware(leadership: leadership, metrics: metrics))
            .add(middleware: BearerTokenMiddleware(credentials: credentials, metrics: metrics))
        /// A registration or report for another node than the token's is 403 with the reason.
        @Sendable func forbidden(_ context: AggregatorRequestContext, speakingFor node: String) -> Response? {
            let identity = context.identity ?? .reader
            guard let reason = AgentCredentials.refusal(identity, speakingFor: node) else { return nil }
            return Rejection(status: .forbidden, reason: reason).response(metrics: metrics)
        }
        api.post("register") { request, context in
            let registration: NodeRegistration
            switch await decode(from: request, limit: limit, WireMessage.registration) {
            case .success(let value): registration = value
            case .failure(let rejection): return rejection.response(metrics: metrics)
            }
            if let refusal = forbidden(context, speakingFor: registration.node) { return refusal }
            let plan: ProbePlan
            switch state.register(registration, now: MonotonicClock.nanoseconds()) {
            case .success(let accepted): plan = accepted
            case .failure(let refusal):
                return Rejection(status: .init(code: refusal.status), reason: "registration: \(refusal.reason)").response(metrics: metrics)
            }
            metrics.registrations.increment()
            return encoded(plan)
        }
        api.get("plan/:node") { _, context in
            let node = context.parameters.get("node") ?? ""
            guard let plan = state.plan(for: node) else {
                return Rejection(status: .notFound, reason: "node '\(node)' is not registered; register first").response(metrics: metrics)
            }
            return encoded(plan)
        }
        api.post("reports") { request, context in
            let started = MonotonicClock.nanoseconds()
            let report: AgentReport
            switch await decode(from: request, limit: limit, WireMessage.report) {
            case .success(let value): report = value
            case .failure(let rejection): return rejection.response(metrics: metrics)
            }
            if let refusal = forbidden(context, speakingFor: report.node) { return refusal }
            switch state.ingest(report, now: MonotonicClock.nanoseconds()) {
            case .unknownNode:
                return Rejection(status: .notFound, reason: "node '\(report.node)' is not registered; register again").response(metrics: metrics)
            case .accepted(let generation):
                metrics.recordIngest(nanoseconds: MonotonicClock.nanoseconds() - started)
                return json(["planGeneration": generation] as [String: any Sendable], status: .accepted)
            }
        }
        api.get("findings") { _, _ in
            encoded(FindingsDocument(findings: state.findings))
        }
        api.get("matrix") { _, _ in
            let matrix = state.matrix(now: MonotonicClock.nanoseconds())
            return encoded(MatrixDocument(sources: matrix.sources, cidrs: matrix.cidrs.map { .init(cidr: $0.cidr, node: $0.node) },
                                          cells: matrix.cells))
        }
        return router
    }

    struct FindingsDocument: Encodable { let findings: [Finding] }

    struct MatrixDocument: Encodable {
        struct Column: Encodable { let cidr: IPPrefix; let node: String }
        let sources: [String]
        let cidrs: [Column]
        let cells: [AggregatorState.MatrixCell]
    }

    /// A request the aggregator refuses, with the reason.
    struct Rejection: Error {
        let status: HTTPResponse.Status
        let reason: String

        static func badRequest(_ reason: String) -> Rejection { Rejection(status: .badRequest, reason: reason) }

        func response(metrics: AggregatorMetrics) -> Response {
            metrics.rejected(status: Int(status.code))
            return json(["error": reason] as [String: any Sendable], status: status)
        }
    }

    /// Reads at most `limit` bytes of body and decodes it with `read` (WireMessage); too large is 413,
    /// anything malformed or out of range 400.
    static func decode<T>(from request: Request, limit: Int, _ read: (Data) -> Result<T, WireRefusal>) async -> Result<T, Rejection> {
        switch await body(of: request, limit: limit) {
        case .success(let data): return read(data).mapError { .badRequest($0.reason) }
        case .failure(let rejection): return .failure(rejection)
        }
    }

    private static func body(of request: Request, limit: Int) async -> Result<Data, Rejection> {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            return .failure(Rejection(status: .contentTooLarge, reason: "body of \(length) bytes is over the limit of \(limit)"))
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            return .failure(Rejection(status: .contentTooLarge, reason: "body is over the limit of \(limit) bytes"))
        } catch {
            return .failure(.badRequest("body could not be read: \(error)"))
        }
        return .success(Data(buffer.readableBytesView))
    }

    static func encoded<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":"encoding failed"}"#.utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func json(_ object: [String: any Sendable], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The request context: who the bearer token says the caller is, once the middleware has checked it.
struct AggregatorRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var identity: AgentCredentials.Identity?

    init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
    }
}

/// A standby answers the API with 503 and who leads: agents retry, and the Service sends them to the leader.
struct StandbyMiddleware: RouterMiddleware {
    typealias Context = AggregatorRequestContext
    let leadership: Leadership
    let metrics: AggregatorMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard leadership.isLeader else {
            metrics.rejected(status: 503)
            return AggregatorRoutes.json(["error": leadership.standbyReason] as [String: any Sendable], status: .serviceUnavailable)
        }
        return try await next(request, context)
    }
}

/// Refuses requests whose bearer token is none of ours (401, or the reviewer's 403/429/503 with the reason)
/// and records the caller's identity in the context.
struct BearerTokenMiddleware: RouterMiddleware {
    typealias Context = AggregatorRequestContext
    let credentials: AgentCredentials
    let metrics: AggregatorMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch await credentials.authenticate(header: request.headers[.authorization] ?? "") {
        case .success(let identity):
            var context = context
            context.identity = identity
            return try await next(request, context)
        case .failure(let refusal):
            metrics.rejected(status: refusal.status)
            var response = AggregatorRoutes.json(["error": refusal.reason] as [String: any Sendable], status: .init(code: refusal.status))
            if refusal.status == 401 { response.headers[.wwwAuthenticate] = "Bearer realm=\"routeprobe\"" }
            return response
        }
    }
}
