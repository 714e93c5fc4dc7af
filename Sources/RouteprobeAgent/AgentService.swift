import RouteprobeNetlink
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// The agent as a ServiceLifecycle service: its rounds run on a thread of their own (probing blocks in
/// poll(2), not in async code); graceful shutdown or cancellation stops it after the current probe timeout.
public struct AgentService: Service {
    private let agent: Agent

    /// Wraps an agent.
    public init(agent: Agent) { self.agent = agent }

    public func run() async throws {
        let agent = self.agent
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    switch startThread({ agent.run(); continuation.resume() }) {
                    case .success(let thread): pthread_detach(thread)
                    case .failure:
                        agent.run()
                        continuation.resume()
                    }
                }
            } onGracefulShutdown: {
                agent.stop()
            }
        } onCancel: {
            agent.stop()
        }
    }
}
