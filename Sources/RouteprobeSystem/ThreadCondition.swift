// A mutex and a condition variable for threads of our own (SystemThread), without Foundation: NSCondition
// would bring Foundation's runtime into every route dump an agent round makes.
import Glibc

/// A lock with a condition: `lock`, `wait` until signalled, `signal`/`broadcast`, `unlock`.
public final class ThreadCondition: @unchecked Sendable {
    // @unchecked Sendable: the pthread objects are made for use from several threads; they live at fixed
    // addresses (allocated here, never moved) as POSIX requires.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        // Default attributes; neither call fails for them on Linux (EAGAIN/ENOMEM are for process-shared ones).
        precondition(pthread_mutex_init(mutex, nil) == 0 && pthread_cond_init(condition, nil) == 0, "pthread_*_init failed")
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
    /// Waits for a signal; call with the lock held, and re-check the awaited state after (wake-ups may be spurious).
    public func wait() { pthread_cond_wait(condition, mutex) }
    public func signal() { pthread_cond_signal(condition) }
    public func broadcast() { pthread_cond_broadcast(condition) }
}
