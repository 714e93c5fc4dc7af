import RouteprobeCore
import RouteprobeSystem

/// The bookkeeping of one probing run: which attempts are due, which are in flight until when, and the
/// best outcome per target so far. Shared by the probers; it does no I/O.
struct ProbeRun {
    enum AttemptState { case pending, inFlight(sentAt: UInt64), done }

    struct Aggregate {
        var outcome: ProbeOutcome?
        var rtt: UInt64?
        var sent = 0
        var received = 0
        var icmpError: ICMPErrorReport?
        var localErrno: Int32?
    }

    let specs: [ProbeSpec]
    let options: ProbeOptions
    private var queue: [(slot: Int, due: UInt64)] = []
    private var queueHead = 0
    private var inFlight: [(slot: Int, deadline: UInt64)] = []
    private var inFlightHead = 0
    private var states: [AttemptState]
    private var aggregates: [Aggregate]
    private(set) var inFlightCount = 0

    init(specs: [ProbeSpec], options: ProbeOptions, start: UInt64 = MonotonicClock.nanoseconds()) {
        self.specs = specs
        self.options = options
        let count = max(1, options.count)
        states = [AttemptState](repeating: .pending, count: specs.count * count)
        aggregates = [Aggregate](repeating: Aggregate(), count: specs.count)
        queue.reserveCapacity(states.count)
        for attempt in 0..<count {
            for index in specs.indices {
                queue.append((attempt * specs.count + index, start + UInt64(attempt) * options.intervalNanoseconds))
            }
        }
    }

    var finished: Bool { queueHead == queue.count && inFlightCount == 0 }

    /// The next attempt to send now, if the concurrency limit allows one.
    mutating func nextSend(now: UInt64) -> (index: Int, attempt: Int)? {
        guard inFlightCount < options.concurrency, queueHead < queue.count, queue[queueHead].due <= now else { return nil }
        let slot = queue[queueHead].slot
        queueHead += 1
        return (slot % specs.count, slot / specs.count)
    }

    /// Puts an attempt the kernel could not take yet (EAGAIN, ENOBUFS) back in the queue.
    mutating func retryLater(index: Int, attempt: Int, now: UInt64) {
        queue.append((attempt * specs.count + index, now + 1_000_000))
    }

    mutating func markSent(index: Int, attempt: Int, now: UInt64) {
        let slot = attempt * specs.count + index
        states[slot] = .inFlight(sentAt: now)
        inFlightCount += 1
        aggregates[index].sent += 1
        inFlight.append((slot, now + options.timeoutNanoseconds))
    }

    /// The in-flight attempt of a slot (attempt x specs + index), the number a prober writes into its packets.
    func probe(forSlot slot: Int) -> (index: Int, attempt: Int)? {
        guard slot >= 0, slot < states.count, case .inFlight = states[slot] else { return nil }
        return (slot % specs.count, slot / specs.count)
    }

    /// Records the end of one attempt.
    mutating func record(index: Int, attempt: Int, outcome: ProbeOutcome, now: UInt64,
                         icmpError: ICMPErrorReport? = nil, localErrno: Int32? = nil) {
        let slot = attempt * specs.count + index
        var rtt: UInt64? = nil
        switch states[slot] {
        case .done: return
        case .inFlight(let sentAt):
            inFlightCount -= 1
            if outcome != .timeout { rtt = now - sentAt }
        case .pending: break
        }
        states[slot] = .done
        var aggregate = aggregates[index]
        if outcome != .timeout && outcome != .localError { aggregate.received += 1 }
        if let rtt, outcome.pathWorks { aggregate.rtt = min(aggregate.rtt ?? .max, rtt) }
        if aggregate.outcome.map({ outcome > $0 }) ?? true {
            aggregate.outcome = outcome
            if let icmpError { aggregate.icmpError = icmpError }
            if let localErrno { aggregate.localErrno = localErrno }
            if !outcome.pathWorks, rtt != nil, outcome == .icmpError { aggregate.rtt = rtt }
        }
        aggregates[index] = aggregate
    }

    /// Ends attempts whose time is up; returns them so their sockets can be closed.
    @discardableResult
    mutating func expire(now: UInt64) -> [(index: Int, attempt: Int)] {
        var expired: [(Int, Int)] = []
        while inFlightHead < inFlight.count, inFlight[inFlightHead].deadline <= now {
            let slot = inFlight[inFlightHead].slot
            inFlightHead += 1
            if case .inFlight = states[slot] {
                record(index: slot % specs.count, attempt: slot / specs.count, outcome: .timeout, now: now)
                expired.append((slot % specs.count, slot / specs.count))
            }
        }
        if inFlightHead > 4096, inFlightHead * 2 > inFlight.count {
            inFlight.removeFirst(inFlightHead)
            inFlightHead = 0
        }
        return expired
    }

    /// Ends the attempts whose time is up and waits on `poller` until an answer arrives or something is due;
    /// nil when the run has finished, else the attempts that expired (their sockets can close) and how many
    /// descriptors are ready. A failed wait is an error, never taken for a timeout.
    mutating func expireAndWait(on poller: inout PollSet, now: UInt64) throws(ProbeError) -> (expired: [(index: Int, attempt: Int)], ready: Int)? {
        let expired = expire(now: now)
        if finished { return nil }
        let wait = nextWakeup(now: now)
        let ready = try probing { () throws(SystemError) in try poller.wait(milliseconds: Int32(min(wait / 1_000_000 + 1, 1000))) }
        return (expired, ready)
    }

    /// Nanoseconds until something is due: a send or a deadline.
    func nextWakeup(now: UInt64) -> UInt64 {
        var next = now + 1_000_000_000
        if inFlightHead < inFlight.count { next = min(next, inFlight[inFlightHead].deadline) }
        if queueHead < queue.count, inFlightCount < options.concurrency { next = min(next, queue[queueHead].due) }
        return next > now ? next - now : 0
    }

    func results() -> [ProbeResult] {
        specs.indices.map { index in
            let aggregate = aggregates[index]
            return ProbeResult(spec: specs[index], outcome: aggregate.outcome ?? .timeout, rttNanoseconds: aggregate.rtt,
                               sent: aggregate.sent, received: aggregate.received, icmpError: aggregate.icmpError,
                               localErrno: aggregate.localErrno)
        }
    }
}
