// The rounds as a Service: they block in poll(2), so they run on a thread of their own; a route change
// starts the next round at once, graceful shutdown stops them within one probe timeout.
import Dispatch
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeProbing
import RouteprobeSystem
import ServiceLifecycle
import Synchronization

/// Wakes the round thread early: a route changed, or the agent is stopping.
public final class RoundTrigger: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let stopping = Mutex(false)

    /// Builds a trigger.
    public init() {}

    /// Starts the next round now.
    public func wake() { semaphore.signal() }

    /// Ends the rounds after the current one.
    public func stop() {
        stopping.withLock { $0 = true }
        semaphore.signal()
    }

    /// True once `stop` was called.
    public var isStopping: Bool { stopping.withLock { $0 } }

    /// Waits up to `nanoseconds` or until woken.
    func wait(nanoseconds: UInt64) { _ = semaphore.wait(timeout: .now() + .nanoseconds(Int(min(nanoseconds, UInt64(Int.max))))) }
}

/// Runs the agent's rounds until graceful shutdown. A round that fails is logged (once while the same
/// problem lasts) and the next goes on.
public struct RoundService: Service {
    private let rounds: AgentRounds
    private let trigger: RoundTrigger
    private let log: @Sendable (String) -> Void

    /// Runs `rounds`, woken early by `trigger`.
    public init(rounds: AgentRounds, trigger: RoundTrigger, log: @escaping @Sendable (String) -> Void) {
        self.rounds = rounds
        self.trigger = trigger
        self.log = log
    }

    public func run() async throws {
        let rounds = self.rounds, trigger = self.trigger, log = self.log
        log(rounds.startLine)
        await runOnThreadUntilShutdown({ RoundService.loop(rounds: rounds, trigger: trigger, log: log) }, stop: { trigger.stop() })
        log(rounds.stopLine)
    }

    private static func loop(rounds: AgentRounds, trigger: RoundTrigger, log: @Sendable (String) -> Void) {
        var lastProblem: String? = nil
        var lastTrim = MonotonicClock.nanoseconds()
        while !trigger.isStopping {
            let started = MonotonicClock.nanoseconds()
            // A burst (a flood of route messages, a big plan) leaves freed memory resident: every 30 s, hand it
            // back (well under a millisecond on the agent's heap).
            if started - lastTrim >= 30_000_000_000 {
                lastTrim = started
                Memory.returnFreeMemory()
            }
            do throws(ProbeError) {
                try rounds.round()
                if lastProblem != nil { log("probing works again") }
                lastProblem = nil
            } catch {
                if lastProblem != error.description { log("round failed: \(error); retrying next round") }
                lastProblem = error.description
            }
            let elapsed = MonotonicClock.nanoseconds() - started
            let interval = rounds.nextRoundAfter
            if elapsed < interval, !trigger.isStopping { trigger.wait(nanoseconds: interval - elapsed) }
        }
    }
}
