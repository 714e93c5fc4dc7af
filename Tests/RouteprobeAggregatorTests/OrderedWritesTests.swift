import Synchronization
import Testing
import RouteprobeAggregator

@Suite struct OrderedWritesTests {
    /// What a writer saw: each call's events and snapshot, and how many calls ran at once at most.
    final class Recorder: Sendable {
        let calls = Mutex<[([Int], String)]>([])
        let running = Mutex((now: 0, most: 0))

        func write(_ events: [Int], _ snapshot: String) {
            calls.withLock { $0.append((events, snapshot)) }
        }
    }

    @Test("writes made while one is stuck wait for it, keep every event in order and write only the newest snapshot")
    func aStuckWriteHoldsTheRestInOrder() async {
        let writes = OrderedWrites<Int, String>()
        let recorder = Recorder()
        let (started, startedSignal) = AsyncStream.makeStream(of: Void.self)
        let (gate, release) = AsyncStream.makeStream(of: Void.self)
        let runner = Task {
            await writes.run { events, snapshot in
                recorder.running.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                recorder.write(events, snapshot)
                if events == [1] {
                    startedSignal.yield()
                    for await _ in gate { break }
                }
                recorder.running.withLock { $0.now -= 1 }
            }
        }
        writes.submit([1], snapshot: "open: a")
        for await _ in started { break }
        // The API server is stuck on the first write; two evaluations go on.
        writes.submit([2], snapshot: "open: a, b")
        writes.submit([3], snapshot: "open: b")
        writes.submit([], snapshot: "open: none")
        release.yield()
        writes.finish()
        await runner.value
        let calls = recorder.calls.withLock { $0 }
        #expect(calls.map(\.0) == [[1], [2, 3]])
        #expect(calls.map(\.1) == ["open: a", "open: none"])
        #expect(recorder.running.withLock { $0.most } == 1)
    }

    @Test("what was submitted before the writer started is written when it starts, even if it is already finished")
    func finishingWritesWhatIsWaiting() async {
        let writes = OrderedWrites<Int, String>()
        let recorder = Recorder()
        writes.submit([1, 2], snapshot: "first")
        writes.submit([3], snapshot: "second")
        writes.finish()
        await writes.run { events, snapshot in recorder.write(events, snapshot) }
        let calls = recorder.calls.withLock { $0 }
        #expect(calls.map(\.0) == [[1, 2, 3]])
        #expect(calls.map(\.1) == ["second"])
    }

    @Test("a cancelled writer returns without being finished (graceful shutdown cancels the aggregator's loop)",
          .timeLimit(.minutes(1)))
    func cancellingStopsTheWriter() async {
        let writes = OrderedWrites<Int, String>()
        let runner = Task { await writes.run { _, _ in } }
        runner.cancel()
        await runner.value
    }
}
