import ArgumentParser
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
        case "aggregator": return (.aggregator, arguments)
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

/// `routeprobe agent`: listed here, run by routeprobe-agent.
struct AgentRole: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Probe the other nodes' pod CIDRs every interval and alert to syslog when a route is missing.")
}

/// `routeprobe beacon`: listed here, run by routeprobe-agent.
struct BeaconRole: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "beacon", abstract: "Answer TCP probes: accept every connection and close it at once.")
}

/// `routeprobe aggregator`: listed here, run by routeprobe-aggregator.
struct AggregatorRole: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregator", abstract: "Correlate the agents' reports into findings that name the missing VPC route entry.")
}
