import ServiceLifecycle

/// The agent as a ServiceLifecycle service: its rounds run on a thread of their own; graceful shutdown or
/// cancellation stops it after the current probe timeout.
public struct AgentService: Service {
    private let agent: Agent

    /// Wraps an agent.
    public init(agent: Agent) { self.agent = agent }

    public func run() async throws {
        let agent = self.agent
        await runOnThreadUntilShutdown({ agent.run() }, stop: { agent.stop() })
    }
}
