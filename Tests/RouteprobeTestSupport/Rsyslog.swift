import Foundation

/// A private rsyslogd (Debian's package) with its own config, socket and output file, in its own network
/// namespace; every message it receives is written one per line as
/// `VERSION|FACILITY|SEVERITY|HOSTNAME|APP-NAME|PROCID|MSGID|STRUCTURED-DATA|MSG`.
public final class Rsyslog: @unchecked Sendable {
    /// The Unix datagram socket it reads (imuxsock, RFC 5424 parsing on).
    public let socketPath: String
    /// Its UDP and TCP ports on the namespace's 127.0.0.1.
    public let udpPort: UInt16 = 5514
    public let tcpPort: UInt16 = 5514
    /// The namespace it runs in.
    public let namespace: String
    private let directory: String

    /// Starts rsyslogd in a new namespace and waits until it listens.
    public init() throws {
        namespace = "rpt-" + String(UInt32.random(in: 0x10_0000...0xff_ffff), radix: 16) + "-syslog"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(namespace).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socketPath = directory + "/log.sock"
        try ip("netns", "add", namespace)
        try ip("-n", namespace, "link", "set", "lo", "up")
        let config = """
            global(workDirectory="\(directory)")
            module(load="imuxsock" SysSock.Use="off")
            input(type="imuxsock" Socket="\(socketPath)" UseSpecialParser="off" ParseHostname="on")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(udpPort)")
            module(load="imtcp")
            input(type="imtcp" address="127.0.0.1" port="\(tcpPort)")
            template(name="fields" type="string" string="%protocol-version%|%syslogfacility%|%syslogseverity%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n")
            *.* action(type="omfile" file="\(directory)/messages.log" template="fields")
            """
        try config.write(toFile: directory + "/rsyslog.conf", atomically: true, encoding: .utf8)
        // rsyslogd daemonizes itself (its parent returns once it is ready) and writes its pid file.
        let started = try runProgram("/usr/sbin/ip", ["netns", "exec", namespace, "/usr/sbin/rsyslogd", "-f",
                                                      directory + "/rsyslog.conf", "-i", directory + "/rsyslogd.pid"])
        guard started.status == 0 else { throw LabError("rsyslogd did not start: \(started.standardError)") }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socketPath) || !listening() {
            if Date() > deadline { throw LabError("rsyslogd did not start listening (config in \(directory))") }
            usleep(50_000)
        }
    }

    private func listening() -> Bool {
        let result = try? runProgram("/usr/bin/ss", ["-N", namespace, "-ltn", "sport", "= :\(tcpPort)"])
        return result?.standardOutput.contains("\(tcpPort)") == true
    }

    /// The lines received so far, waiting up to `timeout` until at least `count` arrived.
    public func lines(atLeast count: Int, timeout: TimeInterval = 5) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let text = (try? String(contentsOfFile: directory + "/messages.log", encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n").map(String.init)
            if lines.count >= count || Date() > deadline { return lines }
            usleep(50_000)
        }
    }

    /// Stops rsyslogd and removes its namespace and files.
    public func stop() {
        if let text = try? String(contentsOfFile: directory + "/rsyslogd.pid", encoding: .utf8),
           let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 {
            // Children of Swift's worker threads inherit a signal mask that blocks SIGTERM, and rsyslogd
            // keeps it; so SIGTERM first, SIGKILL when it has not ended within a second.
            kill(pid, SIGTERM)
            for _ in 0..<50 where kill(pid, 0) == 0 { usleep(20_000) }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        }
        _ = try? runProgram("/usr/sbin/ip", ["netns", "del", namespace])
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
