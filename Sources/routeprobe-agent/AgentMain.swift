import Foundation
import RouteprobeCommandSupport
import RouteprobeSystem

/// The agent's executable: `routeprobe agent` and `routeprobe beacon` run here (the `routeprobe` command
/// hands them over), so the node's long-running processes carry neither the aggregator's server nor the
/// Kubernetes client. They parse with the tools' parser: swift-argument-parser's code and metadata, touched
/// once at start, would stay resident for the agent's whole life.
@main
enum RouteprobeAgentMain {
    static let root = ToolDescription(path: [], abstract: "The node roles of routeprobe: the agent and the beacon.",
                                      subtools: [AgentCommand.tool, BeaconCommand.tool])

    static func main() async {
        // The round thread allocates a round's reports and frees them; the others allocate little: one arena
        // keeps the memory a round freed for the next round instead of one arena per thread (0.7 MB at 1,000
        // targets). Here, on the main thread, before the concurrency runtime's first allocation on a thread
        // of its pool: a thread that has allocated once keeps the arena it got, whatever the limit says later.
        Memory.useOneArena()
        RuntimeLog.silenceLibdispatch()
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "agent": await AgentCommand.main(Array(arguments.dropFirst()))
        case "beacon": await BeaconCommand.main(Array(arguments.dropFirst()))
        case nil, "--help", "-h": root.printHelpAndExit()
        case let other?: root.usage("unknown role '\(other)'").report()
        }
    }
}
