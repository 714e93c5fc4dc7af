import ArgumentParser
import Foundation
import RouteprobeCommandSupport

extension ParsableCommand {
    /// Parses `arguments` with swift-argument-parser, runs the role's command, and maps every error to one
    /// line on stderr: usage errors exit 2, failures exit 1.
    public static func runAsRouteprobeService(_ arguments: [String]) async -> Never {
        do {
            let command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var command = command
                try command.run()
            }
            Foundation.exit(0)
        } catch {
            exitReporting(error)
        }
    }

    /// Prints the error as one line and exits: a CommandFailure with its status, ArgumentParser's errors as
    /// usage errors (2), help and version requests with 0.
    static func exitReporting(_ error: any Error) -> Never {
        if let failure = error as? CommandFailure { failure.report() }
        if let code = error as? ExitCode { Foundation.exit(code.rawValue) }
        if exitCode(for: error) == .success { exit(withError: error) }
        let message = fullMessage(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
        FileHandle.standardError.write(Data("routeprobe: \(message.split(separator: "\n").first ?? "")\n".utf8))
        if message.contains("\n") {
            FileHandle.standardError.write(Data("See 'routeprobe help' for usage.\n".utf8))
        }
        Foundation.exit(2)
    }
}
