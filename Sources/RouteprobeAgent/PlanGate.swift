// An agent's distrust of a plan that would take most of its targets away at once: a registration flood, a
// restarted aggregator that knows few nodes yet, or a lie. Such a plan is taken only when the aggregator
// hands out the same one again, a round later.
import RouteprobeCore

/// Decides whether an agent adopts a new probe plan.
public struct PlanGate: Sendable {
    /// The generation of a plan held back, waiting for its confirmation.
    public private(set) var held: UInt64?

    public init() {}

    /// True when `new` replaces `current` now. A plan that drops more than half of the current plan's
    /// targets is adopted only the second time the aggregator hands it out (the same generation twice in a
    /// row); any other plan at once.
    public mutating func adopt(_ new: ProbePlan, over current: ProbePlan?) -> Bool {
        guard let current else { held = nil; return true }
        let before = Set(current.probeSpecs.map(\.target))
        let dropped = before.subtracting(new.probeSpecs.map(\.target)).count
        if dropped * 2 <= before.count || held == new.generation {
            held = nil
            return true
        }
        held = new.generation
        return false
    }

    /// Why a plan was held back, for the log.
    public static func reason(_ new: ProbePlan, over current: ProbePlan) -> String {
        let before = Set(current.probeSpecs.map(\.target))
        let dropped = before.subtracting(new.probeSpecs.map(\.target)).count
        return "the new probe plan (generation \(new.generation)) drops \(dropped) of \(before.count) targets at once; probing the current plan until the aggregator hands it out again"
    }
}
