import Foundation
import Testing
import RouteprobeTestSupport

/// The agent and `probe` as they should run in a pod: uid 65534 with only CAP_NET_RAW and CAP_NET_ADMIN (as
/// ambient capabilities, which podman and CRI-O give a non-root user with cap-add), set by setpriv.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct LeastPrivilegeLabTests {
    /// `setpriv` as uid/gid 65534 with exactly `capabilities` (inheritable, ambient and bounding).
    static func unprivileged(_ capabilities: [String]) -> [String] {
        let set = (["-all"] + capabilities.map { "+" + $0 }).joined(separator: ",")
        return ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps", set, "--ambient-caps", set,
                "--bounding-set", set, "--"]
    }

    @Test("as uid 65534 with only NET_RAW and NET_ADMIN, probe and the agent find the missing VPC entry; without them the agent stops at start")
    func nobodyWithTwoCapabilities() async throws {
        try await withLab(nodes: 2) { lab in
            let executable = try routeprobeExecutable()
            // The map must be readable by uid 65534.
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: lab.mapPath)
            try lab.run("break-vpc-route", "node-b")
            let probe = try runProgram("/usr/sbin/ip", ["netns", "exec", lab.namespace("node-a")] + Self.unprivileged(["net_raw", "net_admin"])
                                       + [executable, "probe", "--cluster-map", lab.mapPath, "172.16.1.12", "--tcp", "9700", "--timeout", "500ms"])
            #expect(probe.status == 1 && probe.standardOutput.contains("verdict:  vpcRouteMissing"), "\(probe.standardOutput) \(probe.standardError)")
            #expect(!probe.standardError.contains("capture was skipped"), "the capture runs with NET_RAW: \(probe.standardError)")

            let agent = try runProgram("/usr/bin/timeout", ["-s", "TERM", "6", "/usr/sbin/ip", "netns", "exec", lab.namespace("node-a")]
                                       + Self.unprivileged(["net_raw", "net_admin"])
                                       + [executable, "agent", "--node-name", "node-a", "--cluster-map", lab.mapPath, "--interval", "1s",
                                          "--timeout", "400ms", "--syslog", "unix:/nonexistent/syslog.sock"])
            #expect(agent.standardOutput.contains("opened vpcRouteMissing"), "\(agent.standardOutput) \(agent.standardError)")
            #expect(agent.standardOutput.contains("stopped after"), "a normal stop on SIGTERM: \(agent.standardOutput)")

            let bare = try runProgram("/usr/sbin/ip", ["netns", "exec", lab.namespace("node-a")] + Self.unprivileged([])
                                      + [executable, "agent", "--node-name", "node-a", "--cluster-map", lab.mapPath, "--syslog", "unix:/nonexistent/syslog.sock"])
            #expect(bare.status == 1 && bare.standardError.contains("the agent needs CAP_NET_RAW"), "\(bare.standardOutput) \(bare.standardError)")
        }
    }
}
