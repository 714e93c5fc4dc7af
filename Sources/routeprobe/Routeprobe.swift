import ArgumentParser
import Foundation

/// The routeprobe command: every role and every on-demand tool is a subcommand.
@main
struct Routeprobe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routeprobe",
        abstract: "Find missing VPC and kernel routes between Kubernetes nodes.",
        discussion: """
            routeprobe reads the node's routing table over netlink, probes other nodes' pod CIDRs and \
            explains why a destination cannot be reached. Exit status: 0 success, 1 failure, 2 usage error.
            """,
        subcommands: [RoutesCommand.self, RouteCommand.self, MonitorCommand.self, ProbeCommand.self, AgentCommand.self, BeaconCommand.self,
                      AggregatorCommand.self, VPCDiffCommand.self]
    )

    /// Parses, runs, and maps every error to one line on stderr: usage errors exit 2, failures exit 1.
    static func main() async {
        do {
            var arguments = Array(CommandLine.arguments.dropFirst())
            // swift-argument-parser spends time that grows faster than linearly in the number of positional
            // arguments (42% of a 1,000-target probe's CPU); hand it one target and set the rest afterwards.
            let targets = ProbeCommand.extractTargets(&arguments)
            var command = try parseAsRoot(arguments)
            if let targets, var probe = command as? ProbeCommand {
                probe.targets = targets
                command = probe
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            failure.report()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            let message = fullMessage(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
            FileHandle.standardError.write(Data("routeprobe: \(message.split(separator: "\n").first ?? "")\n".utf8))
            if message.contains("\n") {
                FileHandle.standardError.write(Data("See 'routeprobe help' for usage.\n".utf8))
            }
            Foundation.exit(2)
        }
    }
}
