import RouteprobeSystem
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking `work` (probing and accepting block in poll(2), not in async code) on a thread of its own and
/// awaits it; graceful shutdown or cancellation calls `stop`, which must make `work` return soon.
func runOnThreadUntilShutdown<Outcome: Sendable>(_ work: @escaping @Sendable () -> Outcome,
                                                 stop: @escaping @Sendable () -> Void) async -> Outcome {
    await withTaskCancellationHandler {
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                do throws(SystemError) { try SystemThread.detached { continuation.resume(returning: work()) } } catch {
                    continuation.resume(returning: work())
                }
            }
        } onGracefulShutdown: {
            stop()
        }
    } onCancel: {
        stop()
    }
}
