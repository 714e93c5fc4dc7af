// poll(2) over a fixed set of descriptors; an error is an error, never mistaken for a timeout.
#if canImport(Glibc)
import Glibc
#endif

/// A set of descriptors to wait on with poll(2).
public struct PollSet {
    /// What to wait for on a descriptor.
    public enum Interest: Sendable { case readable, writable }

    private var entries: [pollfd]

    /// An empty set.
    package init() { entries = [] }

    /// Waits on `descriptors`, each for `interest`.
    package init(_ descriptors: [Int32], interest: Interest = .readable) {
        entries = descriptors.map { pollfd(fd: $0, events: PollSet.events(interest), revents: 0) }
    }

    private static func events(_ interest: Interest) -> Int16 {
        interest == .readable ? Int16(POLLIN) : Int16(POLLOUT)
    }

    /// Adds a descriptor; its position is the set's count before the call.
    package mutating func add(_ fd: Int32, interest: Interest = .readable) {
        entries.append(pollfd(fd: fd, events: PollSet.events(interest), revents: 0))
    }

    /// How many descriptors the set holds.
    package var count: Int { entries.count }

    /// The descriptor at `position`.
    package func descriptor(at position: Int) -> Int32 { entries[position].fd }

    /// Waits up to `milliseconds` (-1: for ever) and returns how many descriptors are ready (0 on timeout).
    /// An interrupted wait is resumed; any other failure throws.
    @discardableResult
    package mutating func wait(milliseconds: Int32) throws(SystemError) -> Int {
        for index in entries.indices { entries[index].revents = 0 }
        let count = nfds_t(entries.count)
        return Int(try systemCall("poll") { poll(&entries, count, milliseconds) })
    }

    /// Whether the descriptor at `position` became ready (readable, writable, or an error or hang-up that
    /// the next read or write will report) in the last wait.
    package func isReady(_ position: Int) -> Bool { entries[position].revents != 0 }
}
