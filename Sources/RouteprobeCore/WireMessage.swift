import Foundation

/// Reading a message an agent sent (a registration or a report) from the bytes of its body: the schema first
/// (another release's message is named as such before its fields are read: they may differ), then the fields,
/// then the limits. Every refusal is one line saying what is wrong and where; nothing an agent sends crashes
/// the reader (scripts/fuzz.sh runs this with libFuzzer).
public enum WireMessage {
    /// A registration, decoded and checked against the wire limits.
    public static func registration(from data: Data) -> Result<NodeRegistration, WireRefusal> {
        decode(NodeRegistration.self, from: data).flatMap { registration in
            registration.problem.map { .failure(WireRefusal("registration: \($0)")) } ?? .success(registration)
        }
    }

    /// A report, decoded and checked against the wire limits.
    public static func report(from data: Data) -> Result<AgentReport, WireRefusal> {
        decode(AgentReport.self, from: data).flatMap { report in
            report.problem.map { .failure(WireRefusal("report: \($0)")) } ?? .success(report)
        }
    }

    /// Decodes `type`, naming another schema version before any field; a malformed body is named field by
    /// field. A message of this schema is parsed once (the schema is read on its own only when it fails).
    static func decode<T: Decodable & SchemaVersioned>(_ type: T.Type, from data: Data) -> Result<T, WireRefusal> {
        if let problem = JSONInput.depthProblem(data) { return .failure(WireRefusal(problem.description)) }
        let decoder = JSONDecoder()
        func otherSchema(_ version: Int?) -> WireRefusal? {
            guard let version, version != WireSchema.version else { return nil }
            return WireRefusal("schema \(version) is not supported (this aggregator speaks schema \(WireSchema.version)); run agents of the same release as the aggregator")
        }
        do {
            let value = try decoder.decode(T.self, from: data)
            return otherSchema(value.schema).map { .failure($0) } ?? .success(value)
        } catch {
            if let refusal = otherSchema(try? decoder.decode(SchemaVersion.self, from: data).schema) { return .failure(refusal) }
            return .failure(WireRefusal(DecodingProblem.describe(error, document: Array(data), decodes: { bytes in
                (try? decoder.decode(T.self, from: Data(bytes))) != nil
            })))
        }
    }

    /// The one field every message of every schema carries.
    private struct SchemaVersion: Decodable { let schema: Int }
}

/// A message that carries its schema version.
public protocol SchemaVersioned { var schema: Int { get } }

extension NodeRegistration: SchemaVersioned {}
extension AgentReport: SchemaVersioned {}

/// Why a message is refused, in one line.
public struct WireRefusal: Error, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
