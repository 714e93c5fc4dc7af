/// A change of a finding, to alert on.
public enum FindingEvent: Sendable, Hashable {
    /// A finding opened.
    case opened(Finding)
    /// A finding that was open no longer holds.
    case resolved(Finding)

    /// The finding concerned.
    public var finding: Finding {
        switch self {
        case .opened(let finding), .resolved(let finding): return finding
        }
    }

    /// True for a resolution.
    public var isResolution: Bool {
        if case .resolved = self { return true }
        return false
    }
}

/// The one hysteresis: a finding opens after it held for `openAfter` consecutive evaluations and closes after
/// `closeAfter` consecutive evaluations without it, so each is reported open once and resolved once and one
/// lucky probe neither opens nor closes it. Agents open after their failures-to-open and close at once; the
/// aggregator opens at once (the agents already confirmed) and closes after two evaluations.
public struct FindingTracker: Sendable {
    /// Consecutive evaluations with a finding before it opens.
    public let openAfter: Int
    /// Consecutive evaluations without an open finding before it closes.
    public let closeAfter: Int
    /// Findings open now, by id, with `since` set.
    public private(set) var open: [String: Finding] = [:]
    /// Consecutive evaluations each not-yet-open finding has held.
    private var streaks: [String: Int] = [:]
    /// Consecutive evaluations each open finding has been absent.
    private var absences: [String: Int] = [:]

    /// Builds a tracker; both counts are at least 1.
    public init(openAfter: Int, closeAfter: Int) {
        self.openAfter = max(1, openAfter)
        self.closeAfter = max(1, closeAfter)
    }

    /// True while some finding has held at least once but not yet opened: a confirming evaluation is due.
    public var hasPending: Bool { !streaks.isEmpty }

    /// Takes one evaluation's findings at `now` (Unix seconds; duplicates by id are merged, the first wins)
    /// and returns what opened and what resolved, in id order.
    public mutating func evaluate(_ findings: [Finding], now: Int64) -> [FindingEvent] {
        var current: [String: Finding] = [:]
        for finding in findings where current[finding.id] == nil { current[finding.id] = finding }
        var events: [FindingEvent] = []
        for (id, var finding) in current.sorted(by: { $0.key < $1.key }) {
            if let existing = open[id] {
                absences[id] = nil
                finding.since = existing.since
                open[id] = finding
                continue
            }
            let streak = (streaks[id] ?? 0) + 1
            if streak >= openAfter {
                streaks[id] = nil
                finding.since = now
                open[id] = finding
                events.append(.opened(finding))
            } else {
                streaks[id] = streak
            }
        }
        for id in streaks.keys where current[id] == nil { streaks[id] = nil }
        for (id, finding) in open.sorted(by: { $0.key < $1.key }) where current[id] == nil {
            let absent = (absences[id] ?? 0) + 1
            if absent >= closeAfter {
                open[id] = nil
                absences[id] = nil
                events.append(.resolved(finding))
            } else {
                absences[id] = absent
            }
        }
        return events
    }

    /// Open findings, most severe kinds first, then by id.
    public var sortedOpen: [Finding] {
        open.values.sorted { ($0.kind.rank, $0.id) < ($1.kind.rank, $1.id) }
    }
}
