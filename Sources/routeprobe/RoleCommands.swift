import Foundation
import RouteprobeCommandSupport
import RouteprobeSystem

/// The executables the roles run in, installed next to `routeprobe`.
enum RoleExecutable: String {
    case agent = "routeprobe-agent"
    case aggregator = "routeprobe-aggregator"

    /// The role a command line asks for (`agent ...`, `beacon ...`, `aggregator ...`, or `help ROLE`).
    static func requested(by arguments: [String]) -> (executable: RoleExecutable, arguments: [String])? {
        var arguments = arguments
        if arguments.count >= 2, arguments[0] == "help" {
            arguments = [arguments[1], "--help"]
        }
        switch arguments.first {
        case "agent", "beacon": return (.agent, arguments)
        case "aggregator", "explain": return (.aggregator, arguments)
        default: return nil
        }
    }

    /// Replaces this process with the role's executable; exits 1 with the reason when it is not there.
    func run(_ arguments: [String]) -> Never {
        let directory = (ProcessImage.executablePath() ?? CommandLine.arguments[0]).split(separator: "/", omittingEmptySubsequences: false)
            .dropLast().joined(separator: "/")
        let path = (directory.isEmpty ? "." : directory) + "/" + rawValue
        guard FileManager.default.isExecutableFile(atPath: path) else {
            CommandFailure("\(arguments.first ?? "this role") runs in \(rawValue), which is not installed next to routeprobe (\(path)); install routeprobe's executables together").report()
        }
        do throws(SystemError) { try ProcessImage.replace(with: path, arguments: ["routeprobe"] + arguments) } catch {
            CommandFailure("cannot start \(path): \(error)").report()
        }
    }
}

extension RoleExecutable {
    /// `routeprobe agent`, `beacon` and `aggregator`: listed in the help here, run by their own executables.
    static let agentTool = ToolDescription(
        path: ["agent"], abstract: "Probe the other nodes' pod CIDRs every interval and alert to syslog when a route is missing.")
    static let beaconTool = ToolDescription(path: ["beacon"], abstract: "Answer TCP probes: accept every connection and close it at once.")
    static let aggregatorTool = ToolDescription(
        path: ["aggregator"], abstract: "Correlate the agents' reports into findings that name the missing VPC route entry.")
    /// `routeprobe explain`: it speaks HTTPS to the aggregator, so it runs in the aggregator's executable.
    static let explainTool = ToolDescription(
        path: ["explain"], abstract: "Explain a symptom: from a stuck namespace or an unavailable APIService to the route entry and the fix.")
}
