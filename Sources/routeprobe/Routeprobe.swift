import ArgumentParser
import Foundation
import RouteprobeCommandSupport
import RouteprobeSystem

/// The routeprobe command: the on-demand tools are subcommands here; the long-running roles (agent, beacon,
/// aggregator) are executables of their own next to this one, and `routeprobe ROLE ...` hands over to them,
/// so that the command a person types stays small and starts fast and each role carries only what it needs.
@main
struct Routeprobe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routeprobe",
        abstract: "Find missing VPC and kernel routes between Kubernetes nodes.",
        discussion: """
            routeprobe reads the node's routing table over netlink, probes other nodes' pod CIDRs and \
            explains why a destination cannot be reached. Exit status: 0 success, 1 failure, 2 usage error.
            """,
        subcommands: [RoutesCommand.self, RouteCommand.self, MonitorCommand.self, ProbeCommand.self, AgentRole.self, BeaconRole.self,
                      AggregatorRole.self, VPCDiffCommand.self]
    )

    /// The on-demand commands, parsed as roots of their own (each names `routeprobe` as its super-command, so
    /// usage and help read as usual): parsing from the top costs every run a search for a completion-script
    /// request (a fifth of `routeprobe routes`), which only the top level answers.
    static let tools: [String: any ParsableCommand.Type] = [
        "routes": RoutesCommand.self, "route": RouteCommand.self, "monitor": MonitorCommand.self,
        "probe": ProbeCommand.self, "vpc-diff": VPCDiffCommand.self,
    ]

    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let (role, roleArguments) = RoleExecutable.requested(by: arguments) { role.run(roleArguments) }
        // The top level's own help, printed without a parse.
        if arguments == ["--help"] || arguments == ["-h"] || arguments == ["help"] {
            writeToStandardOutput(helpMessage() + "\n")
            Foundation.exit(0)
        }
        guard let first = arguments.first, let tool = tools[first] else {
            // The top level: its help, `help COMMAND`, completion scripts, and unknown commands.
            runAsRouteprobeCommand(arguments)
        }
        arguments.removeFirst()
        // swift-argument-parser spends time that grows faster than linearly in the number of positional
        // arguments (42% of a 1,000-target probe's CPU); hand it one target and set the rest afterwards.
        let targets = tool == ProbeCommand.self ? ProbeCommand.extractTargets(&arguments) : nil
        tool.runAsRouteprobeCommand(arguments) { command in
            guard let targets, var probe = command as? ProbeCommand else { return command }
            probe.targets = targets
            return probe
        }
    }
}
