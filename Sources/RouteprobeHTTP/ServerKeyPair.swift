import Foundation
import NIOSSL
import Synchronization

/// A server's certificate chain and private key, read from their files and read again when either file
/// changes (cert-manager and kubelet replace mounted Secrets in place): every TLS handshake uses the newest
/// pair that loaded. A pair that does not load keeps the last good one and is said once through `log`.
/// The owner calls `refresh()` now and then, off the event loops: BoringSSL leaves a failed parse's errors
/// on the thread that parsed, and a handshake on that thread would then fail too.
public final class ServerKeyPair: Sendable {
    public let certificatePath: String
    public let keyPath: String
    private let log: @Sendable (String) -> Void
    private struct Loaded {
        var stamps: [Date?]
        var chain: [NIOSSLCertificateSource]
        var key: NIOSSLPrivateKeySource
        var problem: String?
    }
    private let loaded: Mutex<Loaded>

    /// Reads both files; a missing, unreadable or mismatched pair is an error that names the file.
    public init(certificatePath: String, keyPath: String, log: @escaping @Sendable (String) -> Void) throws(TLSFileError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.log = log
        let stamps = [Self.stamp(certificatePath), Self.stamp(keyPath)]
        let (chain, key) = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        loaded = Mutex(Loaded(stamps: stamps, chain: chain, key: key, problem: nil))
    }

    /// A server configuration (TLS 1.2 and up) whose every handshake takes the current pair.
    public func serverConfiguration() -> TLSConfiguration {
        let (chain, key) = loaded.withLock { ($0.chain, $0.key) }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
        tls.minimumTLSVersion = .tlsv12
        // On close, wait at most this long for the client's close_notify (NIOSSL's default is 5 s): a stop with
        // agents connected must not wait for each of them.
        tls.shutdownTimeout = .milliseconds(200)
        tls.sslContextCallback = { [self] _, promise in
            let (chain, key) = self.loaded.withLock { ($0.chain, $0.key) }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = chain
            override.privateKey = key
            promise.succeed(override)
        }
        return tls
    }

    /// Reads the pair again when a file's modification time changed; returns the pair to use now.
    @discardableResult
    public func refresh() -> ([NIOSSLCertificateSource], NIOSSLPrivateKeySource) {
        let stamps = [Self.stamp(certificatePath), Self.stamp(keyPath)]
        return loaded.withLock { loaded in
            if stamps != loaded.stamps {
                loaded.stamps = stamps
                do throws(TLSFileError) {
                    (loaded.chain, loaded.key) = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
                    log("TLS certificate \(certificatePath) read again")
                    loaded.problem = nil
                } catch {
                    if loaded.problem != error.description { log("\(error.description); serving the last good certificate") }
                    loaded.problem = error.description
                }
            }
            return (loaded.chain, loaded.key)
        }
    }

    private static func stamp(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    private static func load(certificatePath: String, keyPath: String) throws(TLSFileError) -> ([NIOSSLCertificateSource], NIOSSLPrivateKeySource) {
        guard let certificateBytes = FileManager.default.contents(atPath: certificatePath) else {
            throw TLSFileError("cannot read --tls-cert \(certificatePath)")
        }
        guard let keyBytes = FileManager.default.contents(atPath: keyPath) else { throw TLSFileError("cannot read --tls-key \(keyPath)") }
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMBytes(Array(certificateBytes)) } catch {
            throw TLSFileError("--tls-cert \(certificatePath) holds no PEM certificate")
        }
        guard !chain.isEmpty else { throw TLSFileError("--tls-cert \(certificatePath) holds no PEM certificate") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(bytes: Array(keyBytes), format: .pem) } catch {
            throw TLSFileError("--tls-key \(keyPath) holds no PEM private key")
        }
        // A key that does not belong to the certificate fails every handshake: refuse it here instead.
        var probe = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        probe.minimumTLSVersion = .tlsv12
        do { _ = try NIOSSLContext(configuration: probe) } catch {
            throw TLSFileError("--tls-key \(keyPath) does not belong to the certificate in --tls-cert \(certificatePath)")
        }
        return (chain.map { .certificate($0) }, .privateKey(key))
    }
}
