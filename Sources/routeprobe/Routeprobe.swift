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

    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let (role, roleArguments) = RoleExecutable.requested(by: arguments) { role.run(roleArguments) }
        // swift-argument-parser spends time that grows faster than linearly in the number of positional
        // arguments (42% of a 1,000-target probe's CPU); hand it one target and set the rest afterwards.
        let targets = ProbeCommand.extractTargets(&arguments)
        runAsRouteprobeCommand(arguments) { command in
            guard let targets, var probe = command as? ProbeCommand else { return command }
            probe.targets = targets
            return probe
        }
    }
}
