import Foundation
import Testing
import RouteprobeCore
@testable import RouteprobeSystem
import RouteprobeTestSupport

@Suite struct SystemCallTests {
    @Test func aFailedCallNamesItselfAndItsErrno() {
        let error = #expect(throws: SystemError.self) {
            try systemCall("close(-1)") { close(-1) }
        }
        #expect(error == .systemCall(call: "close(-1)", errno: EBADF))
        #expect(error?.description == "close(-1) failed: Bad file descriptor (EBADF)")
    }

    @Test func aMissingNamespaceIsItsOwnErrorAndSaysWhatToDo() {
        let error = #expect(throws: SystemError.self) {
            _ = try NetworkNamespace("rpt-does-not-exist").run { 1 }
        }
        #expect(error == .namespace(path: "/run/netns/rpt-does-not-exist", errno: ENOENT))
        #expect(error?.description.contains("`ip netns list` shows the names that exist") == true)
    }

    @Test func withoutANamespaceTheBodyRunsRightHere() throws {
        let thread = pthread_self()
        #expect(try NetworkNamespace.run(in: nil) { pthread_equal(pthread_self(), thread) != 0 })
    }

    @Test func aJoinedThreadHasFinishedItsWork() throws {
        var seen = 0
        let value = try SystemThread.runAndJoin { () -> Int in
            seen = 7
            return 42
        }
        #expect(value == 42 && seen == 7)
    }

    @Test func pollTimesOutWithNothingReadyAndSeesAWake() throws {
        let pipe = try WakePipe()
        var poller = PollSet([pipe.readEnd.fd])
        #expect(try poller.wait(milliseconds: 0) == 0)
        #expect(!poller.isReady(0))
        pipe.wake()
        #expect(try poller.wait(milliseconds: 1000) == 1)
        #expect(poller.isReady(0))
    }

    @Test func aPollErrorIsAnErrorNotATimeout() {
        // More descriptors than the process may open: poll(2) says EINVAL.
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        var poller = PollSet([Int32](repeating: 0, count: Int(min(limit.rlim_cur, 1 << 20)) + 1))
        #expect(throws: SystemError.systemCall(call: "poll", errno: EINVAL)) { try poller.wait(milliseconds: 0) }
    }

    @Test func writingToAClosedDescriptorThrows() {
        #expect(throws: SystemError.systemCall(call: "write", errno: EBADF)) { try OwnedDescriptor.writeAll(-1, [1]) }
    }
}

@Suite struct SocketAddressTests {
    @Test func ipAddressesPrintAsPeopleWriteThem() {
        #expect(SocketAddress.ip(IPAddress("192.168.0.50")!, port: 9700).description == "192.168.0.50:9700")
        #expect(SocketAddress.ip(IPAddress("fd00::1")!, port: 80).description == "[fd00::1]:80")
        #expect(SocketAddress.unix(path: "/dev/log").description == "/dev/log")
    }

    @Test func aUnixPathLongerThanTheKernelTakesIsRefused() throws {
        let socket = try OwnedDescriptor.socket(.unix, .datagram)
        let long = "/tmp/" + String(repeating: "x", count: 200)
        let error = #expect(throws: SystemError.self) { try socket.connect(to: .unix(path: long)) }
        #expect(error?.errno == ENAMETOOLONG)
    }

    @Test func unixDatagramsGoThroughTheSocketCalls() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-system-\(getpid()).sock").path
        unlink(path)
        defer { unlink(path) }
        let server = try OwnedDescriptor.socket(.unix, .datagram)
        try server.bind(to: .unix(path: path))
        let client = try OwnedDescriptor.socket(.unix, .datagram)
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try server.receive(into: &buffer) == nil, "nothing queued yet")
        try client.send(Array("hello".utf8), to: .unix(path: path))
        let received = try #require(try server.receive(into: &buffer))
        #expect(Array(buffer[0..<received.length]) == Array("hello".utf8))
    }
}

extension SocketAddressTests {
    @Test func datagramsGoOutAndComeInBatches() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-batch-\(getpid()).sock").path
        unlink(path)
        defer { unlink(path) }
        let server = try OwnedDescriptor.socket(.unix, .datagram)
        try server.bind(to: .unix(path: path))
        let client = try OwnedDescriptor.socket(.unix, .datagram)
        let payloads: [[UInt8]] = [[1], [2, 2], Array(repeating: 3, count: 300)]
        #expect(try client.send(payloads.map { (bytes: $0, to: SocketAddress.unix(path: path)) }[...]) == 3, "one call, three datagrams")
        var buffer = [UInt8](repeating: 0, count: 8 * 128)
        let received = try server.receive(into: &buffer, slotSize: 128)
        #expect(received.map(\.length) == [1, 2, 128], "the third is cut at its slot's size")
        #expect(Array(buffer[0..<1]) == [1] && Array(buffer[128..<130]) == [2, 2] && buffer[256..<384].allSatisfy { $0 == 3 })
        #expect(try server.receive(into: &buffer, slotSize: 128).isEmpty, "nothing more queued")
        // A batch to nowhere fails as its first datagram does.
        let error = #expect(throws: SystemError.self) { _ = try client.send([(bytes: [1], to: SocketAddress.unix(path: path + ".none"))][...]) }
        #expect(error?.errno == ENOENT)
    }
}

@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct NamespaceSocketTests {
    @Test func socketsOpenInsideTheNamespaceAndTalkOverItsLoopback() async throws {
        try await withLabNamespace { name in
            // An address only the lab namespace has: binding to it works inside and nowhere else, so a
            // socket that ignored `in:` would fail here instead of passing on the root namespace's loopback.
            try ip("-n", name, "address", "add", "192.168.77.1/32", "dev", "lo")
            let namespace = NetworkNamespace(name)
            let address = IPAddress("192.168.77.1")!
            let outside = try OwnedDescriptor.socket(.inet, .datagram)
            #expect(throws: SystemError.self, "the address is not this process's own") { try outside.bind(to: .ip(address, port: 0)) }
            let server = try OwnedDescriptor.socket(.inet, .datagram, in: namespace)
            try server.bind(to: .ip(address, port: 0))
            let bound = try server.localAddress()
            #expect(bound.ipAddress == address && (bound.port ?? 0) > 0)
            let client = try OwnedDescriptor.socket(.inet, .datagram, in: namespace)
            try client.send([1, 2, 3], to: bound)
            var poller = PollSet([server.fd])
            #expect(try poller.wait(milliseconds: 1000) == 1)
            var buffer = [UInt8](repeating: 0, count: 16)
            let received = try #require(try server.receive(into: &buffer))
            #expect(received.length == 3 && received.sender?.ipAddress == address)
            // A listener opened in the namespace binds the namespace's address too.
            let listener = try OwnedDescriptor.listening(on: address, port: 0, in: namespace)
            #expect(try listener.localAddress().ipAddress == address)
        }
    }
}

@Suite struct MemoryTests {
    @Test("freed memory is handed back to the kernel: after 100 MB of small blocks are freed, malloc_trim releases some")
    func freedMemoryIsReturned() {
        var blocks = (0..<100_000).map { index in [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 1024) }
        #expect(blocks.count == 100_000)
        blocks = []
        #expect(Memory.returnFreeMemory(), "100 MB freed and nothing to release")
    }

    /// This process's resident file-backed pages, in kB (/proc/self/status RssFile).
    private func residentFileKilobytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("RssFile:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    @Test("released code pages leave the resident set and come back, unchanged, when the program runs them")
    func releasedCodeComesBack() throws {
        let before = try residentFileKilobytes()
        let released = Memory.releaseProgramCode()
        let after = try residentFileKilobytes()
        #expect(released > 0)
        // The test binary keeps megabytes of its code resident; most of it is gone right after.
        #expect(after < before - 1024, "RssFile \(before) kB before, \(after) kB after")
        // And the program still runs: code and constants fault back in as they were.
        #expect(String(describing: [3, 1, 2].sorted()) == "[1, 2, 3]")
        #expect(SocketAddress.unix(path: "/tmp/x").description == "/tmp/x")
    }

    @Test("a condition hands values from one thread to another")
    func conditionHandsOver() throws {
        let condition = ThreadCondition()
        final class Box: @unchecked Sendable { var values: [Int] = []; var done = false }
        let box = Box()
        let producer = try SystemThread {
            for value in 1...1000 {
                condition.lock(); box.values.append(value); condition.signal(); condition.unlock()
            }
            condition.lock(); box.done = true; condition.broadcast(); condition.unlock()
        }
        var received: [Int] = []
        condition.lock()
        while true {
            received += box.values
            box.values = []
            if box.done { break }
            condition.wait()
        }
        condition.unlock()
        producer.join()
        #expect(received == Array(1...1000))
    }
}
