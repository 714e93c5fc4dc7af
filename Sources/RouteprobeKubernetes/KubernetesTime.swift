import Foundation

/// The API's two time formats, written and read in one place: `Time`, RFC 3339 in whole seconds
/// (`2026-12-05T13:10:49Z`: Event timestamps, condition transition times), and `MicroTime`, with six
/// fractional digits (`2026-12-05T13:10:49.123456Z`: Leases, events.k8s.io Events).
public enum KubernetesTime {
    private static let whole = Date.ISO8601FormatStyle()
    private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// A `Time` as the API server writes it (UTC, whole seconds).
    public static func time(_ date: Date) -> String {
        whole.format(date)
    }

    /// A `MicroTime` as the API server writes it (UTC, microseconds).
    public static func microTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        let wholeSeconds = floor(seconds)
        var time = time_t(wholeSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let micros = Int((seconds - wholeSeconds) * 1_000_000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros)
    }

    /// Unix seconds of a `Time` or `MicroTime` (any RFC 3339 time, with or without fractional seconds); nil
    /// when the text is none.
    public static func seconds(_ text: String) -> Int64? {
        let date = (try? whole.parse(text)) ?? (try? fractional.parse(text))
        return date.map { Int64($0.timeIntervalSince1970.rounded(.down)) }
    }
}
