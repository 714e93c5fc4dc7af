// Starting a pthread that runs a Swift closure: the closure is boxed and retained for the thread, which
// releases it when it ends; if the thread cannot be created the retain is balanced at once.
#if canImport(Glibc)
import Glibc
#endif

/// A closure handed to a new thread.
private final class ThreadBody {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}

/// Starts a thread running `work`; returns the thread, or the pthread_create error.
package func startThread(_ work: @escaping () -> Void) -> Result<pthread_t, NetlinkError> {
    var thread = pthread_t()
    let context = Unmanaged.passRetained(ThreadBody(work)).toOpaque()
    let created = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().work()
        return nil
    }, context)
    if created != 0 {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        return .failure(.systemCall(call: "pthread_create", errno: created))
    }
    return .success(thread)
}
