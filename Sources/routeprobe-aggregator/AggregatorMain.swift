import ArgumentParser
import RouteprobeCommandSupport
import RouteprobeRoleCommand

/// The aggregator's executable: `routeprobe aggregator` runs here (the `routeprobe` command hands it over),
/// with the HTTP server and the Kubernetes client that only the aggregator needs.
@main
struct RouteprobeAggregatorMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routeprobe",
        abstract: "The cluster role of routeprobe: the aggregator.",
        subcommands: [AggregatorCommand.self]
    )

    static func main() async {
        await runAsRouteprobeService(Array(CommandLine.arguments.dropFirst()))
    }
}
