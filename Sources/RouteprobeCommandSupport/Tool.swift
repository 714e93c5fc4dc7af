import Foundation

/// An on-demand tool of the `routeprobe` command: its declaration, how it reads its command line, and what
/// it does.
public protocol Tool {
    /// The tool's words, help and options.
    static var tool: ToolDescription { get }
    /// Reads and checks the parsed command line; a bad value is a usage error.
    init(_ line: ToolCommandLine) throws(CommandFailure)
    /// Does the work. A `CommandFailure` is one line and its status; an `ExitStatus` exits quietly.
    func run() throws
}

/// An exit status without a message (the output already said it: "not every target is reachable").
public struct ExitStatus: Error {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }
}

extension Tool {
    /// Parses `arguments` (the words after the tool's own), runs the tool, and exits with its status.
    public static func main(_ arguments: [String]) -> Never {
        do {
            try Self(try tool.parse(arguments)).run()
            Foundation.exit(0)
        } catch {
            exitAfterReporting(error)
        }
    }
}

/// A long-running role (`agent`, `beacon`): a tool whose work is asynchronous (a ServiceGroup).
public protocol ServiceTool {
    /// The role's words, help and options.
    static var tool: ToolDescription { get }
    /// Reads and checks the parsed command line; a bad value is a usage error.
    init(_ line: ToolCommandLine) throws(CommandFailure)
    /// Runs until stopped. A `CommandFailure` is one line and its status.
    func run() async throws
}

extension ServiceTool {
    /// Parses `arguments` (the words after the role's own), runs the role, and exits with its status.
    public static func main(_ arguments: [String]) async -> Never {
        do {
            try await Self(try tool.parse(arguments)).run()
            Foundation.exit(0)
        } catch {
            exitAfterReporting(error)
        }
    }
}

/// How a tool or role ends on an error: a `CommandFailure` prints its one line and exits with its status,
/// an `ExitStatus` exits quietly with its code, anything else is a one-line failure.
func exitAfterReporting(_ error: any Error) -> Never {
    switch error {
    case let failure as CommandFailure: failure.report()
    case let status as ExitStatus: Foundation.exit(status.code)
    default: CommandFailure("\(error)").report()
    }
}