import Foundation
import RouteprobeCommandSupport
import RouteprobeSystem

/// The aggregator's executable: `routeprobe aggregator` runs here (the `routeprobe` command hands it over),
/// with the HTTP server and the Kubernetes client that only the aggregator needs.
@main
enum RouteprobeAggregatorMain {
    static let root = ToolDescription(path: [], abstract: "The cluster role of routeprobe: the aggregator.",
                                      subtools: [AggregatorCommand.tool, ExplainCommand.tool])

    static func main() async {
        RuntimeLog.silenceLibdispatch()
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "aggregator": await AggregatorCommand.main(Array(arguments.dropFirst()))
        case "explain": await ExplainCommand.main(Array(arguments.dropFirst()))
        case nil, "--help", "-h": root.printHelpAndExit()
        case let other?: root.usage("unknown role '\(other)'").report()
        }
    }
}
