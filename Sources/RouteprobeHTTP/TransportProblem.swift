import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Why an HTTPS or HTTP request failed, in words a person can act on: the agent's link to the aggregator and
/// the aggregator's Kubernetes client both say their transport errors through this, never as the library's
/// type names, error codes or build paths.
public enum TransportProblem {
    /// One line for `error` on the way to `server` ("the API server", "the aggregator"). `trustHint` says how
    /// to make the server's certificate trusted where the caller is ("set certificate-authority-data in the
    /// kubeconfig"). E.g. "the API server's certificate is not trusted: set ...", "cannot reach the
    /// aggregator: connection refused (nothing listens on that address and port)".
    public static func describe(_ error: any Error, server: String, trustHint: String) -> String {
        switch reason(error, trustHint: trustHint) {
        case .certificate(let text): return "\(server)'s certificate \(text)"
        case .connection(let text): return "cannot reach \(server): \(text)"
        }
    }

    private enum Reason {
        /// About the server's certificate: "is not trusted: ...".
        case certificate(String)
        /// Anything else on the way.
        case connection(String)
    }

    private static func reason(_ error: any Error, trustHint: String) -> Reason {
        if let io = error as? IOError { return .connection(describe(errno: io.errnoCode)) }
        if let connection = error as? NIOConnectionError {
            // Every address failed: the first one's reason is what a person needs.
            if let first = connection.connectionErrors.first { return reason(first.error, trustHint: trustHint) }
            if let dns = connection.dnsAAAAError ?? connection.dnsAError { return .connection("cannot resolve \(connection.host): \(shortText(dns))") }
            return .connection("cannot connect to \(connection.host):\(connection.port)")
        }
        if let ssl = error as? NIOSSLError { return reason(ssl, trustHint: trustHint) }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return .certificate("is not valid for the host name in the URL: issue it for that name or address")
        }
        if error is NIOSSLExtraError { return .connection("the TLS handshake failed") }
        if let client = error as? HTTPClientError { return .connection(describe(client)) }
        if let channel = error as? ChannelError {
            switch channel {
            case .connectTimeout: return .connection("connection timed out (no answer: a firewall or a missing route?)")
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed: return .connection("the connection was closed")
            default: return .connection("connection failed")
            }
        }
        if error is CancellationError { return .connection("cancelled") }
        return .connection(shortText(error))
    }

    private static func describe(errno code: Int32) -> String {
        switch code {
        case 111: return "connection refused (nothing listens on that address and port)"
        case 2: return "no such socket"
        case 113: return "no route to host"
        case 101: return "network unreachable"
        case 110: return "connection timed out"
        case 104: return "connection reset by the server"
        case 32: return "the server closed the connection"
        default: return "connection failed (\(String(cString: strerror(code))))"
        }
    }

    private static func reason(_ error: NIOSSLError, trustHint: String) -> Reason {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
            return .certificate("is not trusted: \(trustHint)")
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("HTTP_REQUEST") {
            return .connection("it does not speak TLS: use an http:// URL (plain HTTP) or turn TLS on at the server")
        }
        if text.contains("TLSV1_ALERT_UNKNOWN_CA") || text.contains("SSLV3_ALERT_BAD_CERTIFICATE") || text.contains("CERTIFICATE_REQUIRED") {
            return .connection("the server refused our client certificate")
        }
        if case .uncleanShutdown = error { return .connection("the server closed the TLS connection abruptly") }
        return .connection("the TLS handshake failed")
    }

    private static func describe(_ error: HTTPClientError) -> String {
        switch error {
        case .connectTimeout: return "connection timed out (no answer: a firewall or a missing route?)"
        case .deadlineExceeded, .readTimeout, .writeTimeout: return "no answer in time"
        case .remoteConnectionClosed: return "the server closed the connection (does it expect https:// where we sent http://?)"
        case .cancelled: return "cancelled"
        case .invalidURL, .emptyHost, .emptyScheme: return "the URL is not usable"
        case .tlsHandshakeTimeout: return "the TLS handshake timed out"
        case .bodyLengthMismatch: return "the answer was cut short"
        default: return shortText(error)
        }
    }

    /// The error's first line without the module-qualified type names some descriptions carry.
    private static func shortText(_ error: any Error) -> String {
        var text = "\(error)"
        if let newline = text.firstIndex(of: "\n") { text = String(text[..<newline]) }
        for prefix in ["NIOCore.", "NIOPosix.", "NIOSSL.", "AsyncHTTPClient.", "HTTPClientError."] {
            text = text.replacingOccurrences(of: prefix, with: "")
        }
        return text
    }
}
