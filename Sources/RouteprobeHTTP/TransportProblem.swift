import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Why an HTTPS or HTTP request failed, in words a person can act on: the agent's link to the aggregator and
/// the aggregator's Kubernetes client both say their transport errors through this, never as the library's
/// type names, error codes or build paths.
public enum TransportProblem {
    /// One line for `error`. `trustHint` says how to make the server's certificate trusted where the caller is
    /// (e.g. "set certificate-authority-data in the kubeconfig").
    public static func describe(_ error: any Error, trustHint: String) -> String {
        if let io = error as? IOError { return describe(errno: io.errnoCode) }
        if let connection = error as? NIOConnectionError {
            // Every address failed: the first one's reason is what a person needs.
            if let first = connection.connectionErrors.first { return describe(first.error, trustHint: trustHint) }
            if let dns = connection.dnsAAAAError ?? connection.dnsAError { return "cannot resolve \(connection.host): \(shortText(dns))" }
            return "cannot connect to \(connection.host):\(connection.port)"
        }
        if let ssl = error as? NIOSSLError { return describe(ssl, trustHint: trustHint) }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "its certificate is not valid for this host name: issue it with the name or address used in the URL"
        }
        if error is NIOSSLExtraError { return "the TLS handshake failed: \(shortText(error))" }
        if let client = error as? HTTPClientError { return describe(client, trustHint: trustHint) }
        if let channel = error as? ChannelError {
            switch channel {
            case .connectTimeout: return "connection timed out (no answer: a firewall or a missing route?)"
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed: return "the connection was closed"
            default: return "connection failed: \(shortText(channel))"
            }
        }
        if error is CancellationError { return "cancelled" }
        return shortText(error)
    }

    private static func describe(errno code: Int32) -> String {
        switch code {
        case 111: return "connection refused (nothing listens on that address and port)"
        case 113: return "no route to host"
        case 101: return "network unreachable"
        case 110: return "connection timed out"
        case 104: return "connection reset by the server"
        case 32: return "the server closed the connection"
        default: return "connection failed (errno \(code))"
        }
    }

    private static func describe(_ error: NIOSSLError, trustHint: String) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
            return "its certificate is not trusted: \(trustHint)"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("HTTP_REQUEST") {
            return "it does not speak TLS: use an http:// URL (plain HTTP) or turn TLS on at the server"
        }
        if text.contains("TLSV1_ALERT_UNKNOWN_CA") || text.contains("SSLV3_ALERT_BAD_CERTIFICATE") || text.contains("CERTIFICATE_REQUIRED") {
            return "the server refused our client certificate"
        }
        if case .uncleanShutdown = error { return "the server closed the TLS connection without a close_notify" }
        return "the TLS handshake failed"
    }

    private static func describe(_ error: HTTPClientError, trustHint: String) -> String {
        switch error {
        case .connectTimeout: return "connection timed out (no answer: a firewall or a missing route?)"
        case .deadlineExceeded, .readTimeout, .writeTimeout: return "the server did not answer in time"
        case .remoteConnectionClosed: return "the server closed the connection (does it expect https:// where we sent http://?)"
        case .cancelled: return "cancelled"
        case .invalidURL, .emptyHost, .emptyScheme: return "the URL is not usable"
        case .tlsHandshakeTimeout: return "the TLS handshake timed out"
        case .bodyLengthMismatch: return "the answer was cut short"
        default: return shortText(error)
        }
    }

    /// The error's text without the module-qualified type names some descriptions carry.
    private static func shortText(_ error: any Error) -> String {
        var text = "\(error)"
        if let newline = text.firstIndex(of: "\n") { text = String(text[..<newline]) }
        for prefix in ["NIOCore.", "NIOPosix.", "NIOSSL.", "AsyncHTTPClient.", "HTTPClientError."] {
            text = text.replacingOccurrences(of: prefix, with: "")
        }
        return text
    }
}
