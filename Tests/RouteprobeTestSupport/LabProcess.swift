import Foundation

/// A routeprobe process running in one lab namespace, its output in a log file; stopped with SIGTERM.
public final class LabProcess: @unchecked Sendable {
    // @unchecked Sendable: used by one test at a time.
    /// The process.
    public let process = Process()
    /// Where its standard output and error go.
    public let output: String

    /// Starts `routeprobe ARGUMENTS` inside `namespace` (`ip netns exec`); `name` names the log file.
    public init(namespace: String, name: String, arguments: [String]) throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("\(namespace)-\(name).log").path
        FileManager.default.createFile(atPath: output, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, try routeprobeExecutable()] + arguments
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = process.standardOutput
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// SIGTERM, then the seconds it took to exit (nil if it did not within 5 s; then it is killed).
    @discardableResult
    public func stop() -> Double? {
        guard process.isRunning else { return 0 }
        let started = Date()
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning, Date().timeIntervalSince(started) < 5 { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return Date().timeIntervalSince(started)
    }

    /// Everything it printed so far.
    public var log: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: output)
    }
}

/// An HTTP request made inside a namespace (Python's urllib, so no traffic leaves the lab): status and body.
public func httpRequest(in namespace: String, method: String = "GET", _ url: String, token: String? = nil,
                        body: String? = nil, trusting authority: String? = nil) throws -> (status: Int, body: String) {
    let script = """
        import ssl, sys, urllib.request, urllib.error
        context = ssl.create_default_context(cafile=sys.argv[4]) if sys.argv[4] else None
        data = sys.argv[5].encode() if len(sys.argv) > 5 else None
        request = urllib.request.Request(sys.argv[2], data=data, method=sys.argv[1])
        if sys.argv[3]: request.add_header("Authorization", "Bearer " + sys.argv[3])
        if data is not None: request.add_header("Content-Type", "application/json")
        try:
            r = urllib.request.urlopen(request, timeout=5, context=context); print(r.status); print(r.read().decode())
        except urllib.error.HTTPError as e:
            print(e.code); print(e.read().decode())
        except Exception as e:
            print(0); print(e)
        """
    let result = try runProgram("/usr/sbin/ip", ["netns", "exec", namespace, "python3", "-c", script, method, url, token ?? "", authority ?? ""] + (body.map { [$0] } ?? []))
    let lines = result.standardOutput.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    return (Int(lines.first ?? "") ?? 0, lines.count > 1 ? String(lines[1]) : result.standardError)
}

/// A throw-away CA and server certificate from scripts/lab-certificates.sh, in a directory removed with it.
public final class LabCertificates: Sendable {
    public let directory: String
    public var authority: String { directory + "/ca.crt" }
    public var certificate: String { directory + "/server.crt" }
    public var key: String { directory + "/server.key" }
    private let names: [String]

    /// A CA and a certificate for `names` (addresses or DNS names).
    public init(_ names: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-tls-\(UInt32.random(in: 0...UInt32.max))").path
        self.names = names
        try make([])
    }

    /// A new certificate for the same names; with `newAuthority`, signed by a new CA (ca.crt is replaced).
    public func rotate(newAuthority: Bool) throws { try make(newAuthority ? ["--new-ca"] : []) }

    private func make(_ options: [String]) throws {
        let result = try runProgram("/bin/bash", [packageRoot.appendingPathComponent("scripts/lab-certificates.sh").path] + options + [directory] + names)
        guard result.status == 0 else { throw LabError("lab-certificates.sh: \(result.standardError)") }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}
