// Threads that run a Swift closure: the closure is boxed and retained for the thread, which releases it when
// it ends; if the thread cannot be created the retain is balanced at once. pthread_t stays in this file.
#if canImport(Glibc)
import Glibc
#endif

/// A thread running one closure. Join it to wait for the closure, or detach it to let it end alone; one
/// that is neither joined nor detached is detached when this object goes away.
public final class SystemThread: @unchecked Sendable {
    // @unchecked Sendable: `handle` and `settled` are touched only by the owner (join/detach/deinit).
    private let handle: pthread_t
    private var settled = false

    private final class Body {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    /// Starts a thread running `work`.
    package init(_ work: @escaping () -> Void) throws(SystemError) {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Body(work)).toOpaque()
        let created = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().work()
            return nil
        }, context)
        if created != 0 {
            Unmanaged<Body>.fromOpaque(context).release()
            throw SystemError.systemCall(call: "pthread_create", errno: created)
        }
        handle = thread
    }

    /// Waits for the closure to return.
    package func join() {
        guard !settled else { return }
        settled = true
        pthread_join(handle, nil)
    }

    /// Lets the thread end on its own.
    package func detach() {
        guard !settled else { return }
        settled = true
        pthread_detach(handle)
    }

    deinit { detach() }

    /// Starts a detached thread running `work`.
    package static func detached(_ work: @escaping () -> Void) throws(SystemError) {
        try SystemThread(work).detach()
    }

    /// Runs `work` on a new thread and waits for it; `work` may borrow the caller's state, since it ends
    /// before this returns.
    package static func runAndJoin<T>(_ work: () -> T) throws(SystemError) -> T {
        var result: T? = nil
        try withoutActuallyEscaping(work) { (work) throws(SystemError) in
            let thread = try SystemThread { result = work() }
            thread.join()
        }
        return result!
    }

    /// Lowers the calling thread's CPU priority to nice 19, so that it runs only when nothing else wants
    /// the core. Linux keeps the nice value per thread (setpriority(2), NOTES).
    package static func lowerCurrentPriority() {
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
    }
}
