import Foundation
import RouteprobeCommandSupport

/// The agent's executable: `routeprobe agent` and `routeprobe beacon` run here (the `routeprobe` command
/// hands them over), so the node's long-running processes carry neither the aggregator's server nor the
/// Kubernetes client. They parse with the tools' parser: swift-argument-parser's code and metadata, touched
/// once at start, would stay resident for the agent's whole life.
@main
enum RouteprobeAgentMain {
    static let root = ToolDescription(path: [], abstract: "The node roles of routeprobe: the agent and the beacon.",
                                      subtools: [AgentCommand.tool, BeaconCommand.tool])

    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "agent": await AgentCommand.main(Array(arguments.dropFirst()))
        case "beacon": await BeaconCommand.main(Array(arguments.dropFirst()))
        case nil, "--help", "-h": root.printHelpAndExit()
        case let other?: root.usage("unknown role '\(other)'").report()
        }
    }
}
