import ArgumentParser
import RouteprobeCommandSupport
import RouteprobeRoleCommand

/// The agent's executable: `routeprobe agent` and `routeprobe beacon` run here (the `routeprobe` command
/// hands them over), so the node's long-running processes carry neither the aggregator's server nor the
/// Kubernetes client.
@main
struct RouteprobeAgentMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routeprobe",
        abstract: "The node roles of routeprobe: the agent and the beacon.",
        subcommands: [AgentCommand.self, BeaconCommand.self]
    )

    static func main() async {
        await runAsRouteprobeService(Array(CommandLine.arguments.dropFirst()))
    }
}
