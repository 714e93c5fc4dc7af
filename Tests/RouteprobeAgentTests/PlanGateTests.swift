import Testing
import RouteprobeAgent
import RouteprobeCore

@Suite("An agent's distrust of a plan that takes most of its targets away")
struct PlanGateTests {
    /// node-0's plan probing nodes `names` of a ten-node cluster.
    func plan(_ names: [Int]) -> ProbePlan {
        let nodes = (0..<10).map { index in
            ClusterMap.Node(name: "node-\(index)", ip: IPAddress("192.168.0.\(10 + index)")!, podCIDRs: [IPPrefix("172.16.\(index).0/24")!])
        }
        return ProbePlan(node: "node-0", probeNodes: names.map { "node-\($0)" }, cluster: ClusterMap(nodes: nodes))
    }

    @Test("a plan dropping more than half the targets is taken only the second time it is handed out; others at once")
    func confirmation() {
        var gate = PlanGate()
        let full = plan(Array(1...8))
        let first = gate.adopt(full, over: nil)
        let quarter = gate.adopt(plan(Array(1...6)), over: full)
        #expect(first && quarter, "the first plan, and one dropping a quarter, at once")
        let poisoned = plan([1])
        let heldBack = !gate.adopt(poisoned, over: full)
        #expect(heldBack && gate.held == poisoned.generation, "dropping seven of eight: held back")
        let replaced = !gate.adopt(plan([2]), over: full)
        #expect(replaced, "another such plan is held in its place, not taken")
        let confirmed = gate.adopt(plan([2]), over: full)
        #expect(confirmed && gate.held == nil, "the same plan handed out a second time")
        #expect(PlanGate.reason(poisoned, over: full).contains("drops 7 of 8 targets at once"))
    }
}
