import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Helpers the privileged tests share: running programs, lab namespaces, the built executable.

/// True when the tests run as root, which the privileged tests need (they create network namespaces).
public let runningAsRoot = getuid() == 0
/// Why privileged tests skip when not root.
public let needsRootReason = "needs root: it creates network namespaces (run scripts/test.sh as root, as CI does)"

/// The result of running a program.
public struct ProgramResult: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
}

/// Runs a program to completion with arguments (no shell), optionally feeding standard input.
@discardableResult
public func runProgram(_ path: String, _ arguments: [String], input: String? = nil) throws -> ProgramResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    // Close-on-exec pipes: tests run in parallel, and a pipe another test's child inherited (a daemon it
    // starts, say) would keep this one open for ever.
    let output = try ClosingPipe(), error = try ClosingPipe(), inputPipe = try ClosingPipe()
    process.standardOutput = output.writer
    process.standardError = error.writer
    process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe.reader
    try process.run()
    try output.writer.close()
    try error.writer.close()
    try inputPipe.reader.close()
    if let input { inputPipe.writer.write(Data(input.utf8)) }
    try inputPipe.writer.close()
    // Read both pipes at once, so a large output on either cannot block the child.
    let errorReader = error.reader
    let errorBox = DataBox()
    let finished = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errorBox.data = errorReader.readDataToEndOfFile()
        finished.signal()
    }
    let outputData = output.reader.readDataToEndOfFile()
    finished.wait()
    let errorData = errorBox.data
    process.waitUntilExit()
    return ProgramResult(status: process.terminationStatus,
                         standardOutput: String(decoding: outputData, as: UTF8.self),
                         standardError: String(decoding: errorData, as: UTF8.self))
}

/// Data handed from a reader thread to the waiting one (ordered by a semaphore).
final class DataBox: @unchecked Sendable { var data = Data() }

/// A pipe whose two ends are close-on-exec.
struct ClosingPipe {
    let reader: FileHandle
    let writer: FileHandle
    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw LabError("pipe failed: errno \(errno)") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        reader = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        writer = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
    }
}

/// `ip` with arguments; throws with its stderr when it fails.
@discardableResult
public func ip(_ arguments: String..., input: String? = nil) throws -> String {
    let result = try runProgram("/usr/sbin/ip", arguments, input: input)
    guard result.status == 0 else {
        throw LabError("ip \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.standardError)")
    }
    return result.standardOutput
}

public struct LabError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs `body` with a fresh network namespace named `rpt-…`, which is deleted afterwards on every path.
public func withLabNamespace<T>(_ body: (String) async throws -> T) async throws -> T {
    let name = "rpt-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    try ip("netns", "add", name)
    defer { _ = try? runProgram("/usr/sbin/ip", ["netns", "del", name]) }
    try ip("-n", name, "link", "set", "lo", "up")
    return try await body(name)
}

/// The routeprobe executable built next to the tests (`swift build` must have run, as scripts/test.sh does).
public func routeprobeExecutable() throws -> String {
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for candidate in [".build/debug/routeprobe", ".build/release/routeprobe"] {
        let path = packageRoot.appendingPathComponent(candidate).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw LabError("no routeprobe executable under \(packageRoot.path)/.build: run `swift build` first")
}

/// The package's root directory.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A lab from scripts/lab.sh, brought up for one test and always taken down.
public struct Lab: Sendable {
    /// The namespace prefix (`rpt-xxxxxx-`).
    public let prefix: String
    /// The cluster map file of the lab.
    public let mapPath: String

    /// The namespace of a node, pod or the VPC (`node-a`, `pod-b`, `vpc`).
    public func namespace(_ name: String) -> String { prefix + name }

    /// Runs a lab command (`break-vpc-route node-b`, ...).
    public func run(_ arguments: String...) throws { _ = try output(arguments) }

    /// Runs a lab command and returns what it printed (`vpc-table --format azure`, ...).
    @discardableResult
    public func output(_ arguments: [String]) throws -> String {
        let result = try runProgram(packageRoot.appendingPathComponent("scripts/lab.sh").path, arguments + ["--prefix", prefix])
        guard result.status == 0 else { throw LabError("lab.sh \(arguments.joined(separator: " ")): \(result.standardError)") }
        return result.standardOutput
    }
}

/// Brings a lab up (`--nodes`, `--mode`), runs `body`, and takes the lab down on every path.
public func withLab<T>(nodes: Int = 3, mode: String = "vpc", dualStack: Bool = false, _ body: (Lab) async throws -> T) async throws -> T {
    let executable = try routeprobeExecutable()
    let prefix = "rpt-" + String(UInt32.random(in: 0x10_0000...0xff_ffff), radix: 16) + "-"
    let script = packageRoot.appendingPathComponent("scripts/lab.sh").path
    defer { _ = try? runProgram(script, ["down", "--prefix", prefix]) }
    let up = try runProgram(script, ["up", "--prefix", prefix, "--nodes", String(nodes), "--mode", mode, "--routeprobe", executable]
                                    + (dualStack ? ["--dual-stack"] : []))
    guard up.status == 0 else { throw LabError("lab.sh up failed: \(up.standardError)") }
    let map = try runProgram(script, ["map", "--prefix", prefix])
    let mapPath = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)map.yaml").path
    try map.standardOutput.write(toFile: mapPath, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: mapPath) }
    return try await body(Lab(prefix: prefix, mapPath: mapPath))
}
