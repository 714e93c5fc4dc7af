import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// True when the tests run as root, which the privileged tests need (they create network namespaces).
let runningAsRoot = getuid() == 0
let needsRootReason: Comment = "needs root: it creates network namespaces (run scripts/test.sh as root, as CI does)"

/// The result of running a program.
struct ProgramResult {
    let status: Int32
    let standardOutput: String
    let standardError: String
}

/// Runs a program to completion with arguments (no shell), optionally feeding standard input.
@discardableResult
func runProgram(_ path: String, _ arguments: [String], input: String? = nil) throws -> ProgramResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    let inputPipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
    try process.run()
    if let input {
        inputPipe.fileHandleForWriting.write(Data(input.utf8))
        try inputPipe.fileHandleForWriting.close()
    }
    // Read both pipes before waiting, so a large output cannot block the child.
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProgramResult(status: process.terminationStatus,
                         standardOutput: String(decoding: outputData, as: UTF8.self),
                         standardError: String(decoding: errorData, as: UTF8.self))
}

/// `ip` with arguments; throws with its stderr when it fails.
@discardableResult
func ip(_ arguments: String..., input: String? = nil) throws -> String {
    let result = try runProgram("/usr/sbin/ip", arguments, input: input)
    guard result.status == 0 else {
        throw LabError("ip \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.standardError)")
    }
    return result.standardOutput
}

struct LabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a fresh network namespace named `rpt-…`, which is deleted afterwards on every path.
func withLabNamespace<T>(_ body: (String) async throws -> T) async throws -> T {
    let name = "rpt-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    try ip("netns", "add", name)
    defer { _ = try? runProgram("/usr/sbin/ip", ["netns", "del", name]) }
    try ip("-n", name, "link", "set", "lo", "up")
    return try await body(name)
}

/// The routeprobe executable built next to the tests (`swift build` must have run, as scripts/test.sh does).
func routeprobeExecutable() throws -> String {
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for candidate in [".build/debug/routeprobe", ".build/release/routeprobe"] {
        let path = packageRoot.appendingPathComponent(candidate).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw LabError("no routeprobe executable under \(packageRoot.path)/.build: run `swift build` first")
}
