import Foundation
import RouteprobeCommandSupport
import RouteprobeSystem

/// The routeprobe command: the on-demand tools run here; the long-running roles (agent, beacon, aggregator)
/// are executables of their own next to this one, and `routeprobe ROLE ...` hands over to them, so that the
/// command a person types stays small and starts fast and each role carries only what it needs.
@main
enum Routeprobe {
    /// The top level: its help lists every tool and role.
    static let root = ToolDescription(
        path: [],
        abstract: "Find missing VPC and kernel routes between Kubernetes nodes.",
        discussion: """
            routeprobe reads the node's routing table over netlink, probes other nodes' pod CIDRs and \
            explains why a destination cannot be reached. Exit status: 0 success, 1 failure, 2 usage error.
            """,
        subtools: [RoutesCommand.tool, RouteCommand.tool, MonitorCommand.tool, ProbeCommand.tool, RoleExecutable.agentTool,
                   RoleExecutable.beaconTool, RoleExecutable.aggregatorTool, RoleExecutable.explainTool, VPCDiffCommand.tool])

    /// The tool the first words name, and how many words that took; nil for none. A switch, not a dictionary
    /// of metatypes: building one costs a process start more metadata work than the lookup saves.
    static func tool(named words: ArraySlice<String>) -> (tool: any Tool.Type, words: Int)? {
        switch words.first {
        case "routes": return (RoutesCommand.self, 1)
        case "monitor": return (MonitorCommand.self, 1)
        case "probe": return (ProbeCommand.self, 1)
        case "vpc-diff": return (VPCDiffCommand.self, 1)
        case "route" where words.dropFirst().first == "get": return (RouteGetCommand.self, 2)
        default: return nil
        }
    }

    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let (role, roleArguments) = RoleExecutable.requested(by: arguments) { role.run(roleArguments) }
        // `help WORDS` is `WORDS --help`.
        if arguments.first == "help" {
            arguments.removeFirst()
            arguments.append("--help")
        }
        guard let first = arguments.first, !first.hasPrefix("-") else {
            if arguments.isEmpty || arguments == ["--help"] || arguments == ["-h"] { root.printHelpAndExit() }
            root.usage("unknown option '\(arguments[0])'").report()
        }
        if let (tool, words) = tool(named: arguments[...]) { tool.main(Array(arguments.dropFirst(words))) }
        // A group (`route`) alone or with --help shows its help; anything else is unknown.
        if let group = root.subtools.first(where: { $0.path == [first] }) {
            if arguments.count == 1 || arguments.dropFirst().allSatisfy({ $0 == "--help" || $0 == "-h" }) { group.printHelpAndExit() }
            group.usage("unknown subcommand '\(arguments[1])'").report()
        }
        root.usage("unknown command '\(first)'").report()
    }
}
