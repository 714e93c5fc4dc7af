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

    /// Decodes `type` after checking the schema version; a malformed body is named field by field.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) -> Result<T, WireRefusal> {
        if let version = try? JSONInput.decode(SchemaVersion.self, from: data).schema, version != WireSchema.version {
            return .failure(WireRefusal("schema \(version) is not supported (this aggregator speaks schema \(WireSchema.version)); run agents of the same release as the aggregator"))
        }
        do {
            return .success(try JSONInput.decode(T.self, from: data))
        } catch {
            return .failure(WireRefusal(DecodingProblem.describe(error, document: Array(data), decodes: { bytes in
                (try? JSONInput.decode(T.self, from: Data(bytes))) != nil
            })))
        }
    }

    /// The one field every message of every schema carries.
    private struct SchemaVersion: Decodable { let schema: Int }
}

/// Why a message is refused, in one line.
public struct WireRefusal: Error, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
