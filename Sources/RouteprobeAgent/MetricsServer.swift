import Prometheus
import RouteprobeCore
import RouteprobeNetlink
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

    init(address: IPAddress, port: UInt16, namespace: NetworkNamespace?, registry: PrometheusCollectorRegistry) throws(SystemCallError) {
        listener = try makeListeningSocket(address: address, port: port, namespace: namespace)
        self.registry = registry
    }

    func start() {
        if case .success(let thread) = startThread({ self.serve() }) { pthread_detach(thread) }
    }

    func stop() { stopping.withLock { $0 = true } }

    private func serve() {
        var descriptor = pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)
        while !stopping.withLock({ $0 }) {
            descriptor.revents = 0
            guard poll(&descriptor, 1, 200) > 0 else { continue }
            let connection = accept(listener.fd, nil, nil)
            guard connection >= 0 else { continue }
            let owned = OwnedDescriptor(connection)
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(owned.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request: [UInt8] = []
            while request.count < 8192, !request.contains(sequence: [13, 10, 13, 10]) {
                let more = receiveSome(owned.fd, limit: 8192 - request.count)
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
            try? sendAll(owned.fd, response, name: "send(metrics)")
        }
    }
}

extension Array where Element == UInt8 {
    func contains(sequence: [UInt8]) -> Bool {
        guard count >= sequence.count else { return false }
        for start in 0...(count - sequence.count) where self[start..<(start + sequence.count)].elementsEqual(sequence) { return true }
        return false
    }
}
