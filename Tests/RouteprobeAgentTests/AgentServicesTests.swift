import Logging
import ServiceLifecycle
import Synchronization
import Testing
import RouteprobeAgent
import RouteprobeCore

/// The agent's services keep the group running when a part of them cannot start: a service that returned
/// would end the whole ServiceGroup, and the agent with it.
@Suite struct AgentServicesTests {
    @Test func anUnbindableMetricsAddressLeavesTheAgentRunning() async throws {
        let lines = Mutex<[String]>([])
        // 192.0.2.1 (TEST-NET-1) is on no interface of this machine: bind fails with EADDRNOTAVAIL; no packet is sent.
        let metrics = MetricsService(address: IPAddress("192.0.2.1")!, port: 9, namespace: nil, metrics: AgentMetrics(),
                                     log: { line in lines.withLock { $0.append(line) } })
        let group = ServiceGroup(services: [metrics], logger: Logger(label: "test"))
        let ended = Mutex(false)
        let running = Task {
            try await group.run()
            ended.withLock { $0 = true }
        }
        for _ in 0..<100 where lines.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(!ended.withLock { $0 }, "the group is still running")
        #expect(lines.withLock { $0 }.first?.contains("cannot serve metrics on 192.0.2.1 port 9") == true)
        #expect(lines.withLock { $0 }.first?.contains("probing goes on without them") == true)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(ended.withLock { $0 })
    }
}
