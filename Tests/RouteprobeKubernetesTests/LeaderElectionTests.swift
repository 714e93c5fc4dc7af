import Foundation
import Synchronization
import Testing
import RouteprobeKubernetes

@Suite("Leader election on a Lease (replay API server with resource versions and conflicts)")
struct LeaderElectionTests {
    final class Candidate: Sendable {
        let elector: LeaderElector
        let inherited = Mutex<[[String: String]]>([])
        let stops = Mutex(0)
        init(_ client: KubernetesClient, _ identity: String) {
            elector = LeaderElector(client: client, settings: .init(namespace: "routeprobe", name: "routeprobe-aggregator", identity: identity,
                                                                     leaseDuration: .seconds(1)), log: { _ in })
        }
        func run() async {
            await elector.run(onStartedLeading: { annotations in self.inherited.withLock { $0.append(annotations) } },
                              onStoppedLeading: { self.stops.withLock { $0 += 1 } })
        }
    }

    @Test("two candidates: one leads, the other stands by; the leader's annotations reach the Lease; when it stops, the standby takes over within the lease duration and inherits them")
    func oneLeadsThenTheStandbyTakesOver() async throws {
        let server = ReplayServer()
        try await server.run({ _, _ in .init(status: .notFound, lines: ["{}"]) }) { client in
            let a = Candidate(client, "aggregator-a"), b = Candidate(client, "aggregator-b")
            let runA = Task { await a.run() }
            try await Task.sleep(for: .milliseconds(300))
            let runB = Task { await b.run() }
            defer { runB.cancel() }
            try await Task.sleep(for: .milliseconds(1500))
            #expect(a.elector.isLeader && !b.elector.isLeader, "a created the Lease first")
            #expect(b.elector.holder == "aggregator-a")
            a.elector.setAnnotation("routeprobe.io/alerted-findings", "vpcRouteMissing-cf1f66233a00df27")
            try await Task.sleep(for: .milliseconds(600))
            let lease = server.leases.lease("routeprobe", "routeprobe-aggregator")
            #expect((lease?["metadata"] as? [String: Any])?["annotations"] as? [String: String] == ["routeprobe.io/alerted-findings": "vpcRouteMissing-cf1f66233a00df27"],
                    "\(lease ?? [:])")
            #expect((lease?["spec"] as? [String: Any])?["holderIdentity"] as? String == "aggregator-a")
            #expect(((lease?["spec"] as? [String: Any])?["renewTime"] as? String)?.hasSuffix("Z") == true)

            // a stops (gracefully: it releases the Lease); b leads within the lease duration and inherits.
            let stopped = ContinuousClock.now
            runA.cancel()
            await runA.value
            while !b.elector.isLeader && ContinuousClock.now - stopped < .seconds(3) { try await Task.sleep(for: .milliseconds(50)) }
            #expect(b.elector.isLeader, "the standby took over")
            #expect(ContinuousClock.now - stopped < .seconds(1), "within the lease duration (1 s here)")
            #expect(b.inherited.withLock { $0 } == [["routeprobe.io/alerted-findings": "vpcRouteMissing-cf1f66233a00df27"]])
            let transitions = ((server.leases.lease("routeprobe", "routeprobe-aggregator")?["spec"] as? [String: Any])?["leaseTransitions"] as? Int)
            #expect(transitions == 1)
        }
    }

    @Test("a leader that cannot renew steps down before another can take over; candidates racing for a free Lease get 409 and one wins")
    func racesAndLostRenewals() async throws {
        let server = ReplayServer()
        try await server.run({ _, _ in .init(status: .notFound, lines: ["{}"]) }) { client in
            let candidates = (0..<4).map { Candidate(client, "aggregator-\($0)") }
            let tasks = candidates.map { candidate in Task { await candidate.run() } }
            try await Task.sleep(for: .milliseconds(1500))
            #expect(candidates.filter { $0.elector.isLeader }.count == 1, "exactly one leader")
            for task in tasks { task.cancel() }
            for task in tasks { await task.value }
        }
        // The leader's API server goes away: it steps down after the renew deadline (2/3 of the duration),
        // before a standby elsewhere could take over.
        let lonely = ReplayServer()
        let own = try KubernetesClient(endpoint: KubernetesEndpoint(server: lonely.url, token: "t"))
        let leader = Candidate(own, "aggregator-a")
        let run = Task { await leader.run() }
        try await lonely.run({ _, _ in .init(status: .notFound, lines: ["{}"]) }) { _ in
            for _ in 0..<20 where !leader.elector.isLeader { try await Task.sleep(for: .milliseconds(100)) }
            #expect(leader.elector.isLeader)
        }
        let gone = ContinuousClock.now
        while leader.elector.isLeader && ContinuousClock.now - gone < .seconds(3) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!leader.elector.isLeader && leader.stops.withLock { $0 } == 1)
        #expect(ContinuousClock.now - gone < .seconds(1), "stepped down within the lease duration")
        run.cancel()
        await run.value
        await own.shutdown()
    }
}
