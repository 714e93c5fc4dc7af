import Prometheus
import RouteprobeCore
import RouteprobeSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Serves `GET /metrics` (Prometheus text format 0.0.4) on one thread; anything else gets 404, a request
/// over 8 KiB or slower than 2 s gets closed. Never blocks the agent's rounds.
final class MetricsServer: @unchecked Sendable {
    // @unchecked Sendable: `listener` is fixed after init; the serving thread is the only reader of it.
    private let listener: OwnedDescriptor
    private let registry: PrometheusCollectorRegistry
    private let stopping = Mutex(false)

    init(address: IPAddress, port: UInt16, namespace: NetworkNamespace?, registry: PrometheusCollectorRegistry) throws(SystemError) {
        listener = try OwnedDescriptor.listening(on: address, port: port, in: namespace)
        self.registry = registry
    }

    func start() throws(SystemError) {
        try SystemThread.detached { self.serve() }
    }

    func stop() { stopping.withLock { $0 = true } }

    private func serve() {
        var poller = PollSet([listener.fd])
        while !stopping.withLock({ $0 }) {
            do throws(SystemError) {
                guard try poller.wait(milliseconds: 200) > 0, let connection = try listener.accept() else { continue }
                try answer(connection)
            } catch {
                // One client's failure (a reset, a timeout) ends only its connection.
                continue
            }
        }
    }

    private func answer(_ connection: OwnedDescriptor) throws(SystemError) {
        try connection.setReceiveTimeout(seconds: 2)
        var request: [UInt8] = []
        while request.count < 8192, !request.contains(sequence: [13, 10, 13, 10]) {
            let more = try connection.receiveSome(limit: 8192 - request.count)
            if more.isEmpty { break }
            request += more
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let response: [UInt8]
        if line.hasPrefix("GET /metrics ") || line == "GET /metrics" {
            let body = registry.emitToBuffer()
            response = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
        } else {
            let body = Array("routeprobe serves GET /metrics only\n".utf8)
            response = Array("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
        }
        try connection.sendAll(response, name: "send(metrics)")
    }
}

extension Array where Element == UInt8 {
    func contains(sequence: [UInt8]) -> Bool {
        guard count >= sequence.count else { return false }
        for start in 0...(count - sequence.count) where self[start..<(start + sequence.count)].elementsEqual(sequence) { return true }
        return false
    }
}
