import NIOSSL

/// The TLS settings of a client that trusts one CA (a PEM bundle) or, without one, the system's roots.
public enum ClientTLS {
    /// A client configuration trusting `certificateAuthorityPEM` when given; a bundle that holds no
    /// certificate is an error naming `source`.
    public static func configuration(certificateAuthorityPEM: [UInt8]?, source: String) throws(TLSFileError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        // On close, wait at most this long for the server's close_notify (NIOSSL's default is 5 s), so that a
        // stop takes well under a second.
        tls.shutdownTimeout = .milliseconds(200)
        if let pem = certificateAuthorityPEM {
            let certificates: [NIOSSLCertificate]
            do { certificates = try NIOSSLCertificate.fromPEMBytes(pem) } catch {
                throw TLSFileError("\(source) holds no PEM certificate")
            }
            guard !certificates.isEmpty else { throw TLSFileError("\(source) holds no PEM certificate") }
            tls.trustRoots = .certificates(certificates)
        }
        return tls
    }
}

/// A CA bundle or key pair that cannot be used, said with the file or field it came from.
public struct TLSFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
