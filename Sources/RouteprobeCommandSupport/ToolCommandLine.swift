// Every routeprobe command line, declared once: the parser and the help both read the declaration. This
// replaces swift-argument-parser, whose first parse in a process cost 1.0-1.3 ms of generic metadata and
// protocol-conformance work for its property wrappers (more than a `routes` of a small table costs in all),
// and whose code, touched once at start, stayed resident in the agent for its whole life.
import Foundation

/// A tool's option.
public struct ToolOption: Sendable {
    /// What the option takes.
    public enum Kind: Sendable {
        /// `--name`: true when given.
        case flag
        /// `--name` and `--no-name`: the last one given wins.
        case invertibleFlag
        /// `--name VALUE` or `--name=VALUE`; `placeholder` names the value in the help.
        case value(placeholder: String)
    }

    /// The long name, without the dashes.
    public let name: String
    public let kind: Kind
    /// One sentence for the help.
    public let help: String
    /// The default, as the help shows it.
    public let defaultText: String?

    /// Declares an option.
    public init(_ name: String, _ kind: Kind, help: String, default defaultText: String? = nil) {
        self.name = name
        self.kind = kind
        self.help = help
        self.defaultText = defaultText
    }

    /// `--name <placeholder>`, `--name`, or `--[no-]name`.
    var synopsis: String {
        switch kind {
        case .flag: return "--\(name)"
        case .invertibleFlag: return "--[no-]\(name)"
        case .value(let placeholder): return "--\(name) <\(placeholder)>"
        }
    }
}

/// A tool's positional argument.
public struct ToolArgument: Sendable {
    public let name: String
    public let help: String
    /// Takes every remaining positional argument (at least one).
    public let repeating: Bool

    /// Declares a positional argument.
    public init(_ name: String, help: String, repeating: Bool = false) {
        self.name = name
        self.help = help
        self.repeating = repeating
    }
}

/// A tool (or a group of tools, such as `route`): its words, its help and its command line.
public struct ToolDescription: Sendable {
    /// The words after `routeprobe` that name it (`["route", "get"]`).
    public let path: [String]
    public let abstract: String
    public let discussion: String
    public let arguments: [ToolArgument]
    public let options: [ToolOption]
    /// The tools of a group, by their last word.
    public let subtools: [ToolDescription]

    /// Declares a tool.
    public init(path: [String], abstract: String, discussion: String = "", arguments: [ToolArgument] = [],
                options: [ToolOption] = [], subtools: [ToolDescription] = []) {
        self.path = path
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments
        self.options = options
        self.subtools = subtools
    }

    /// `routeprobe route get`.
    public var commandName: String { (["routeprobe"] + path).joined(separator: " ") }

    /// Reads `arguments` (the words after the tool's own); a usage error names what is wrong. `-h` or
    /// `--help` anywhere prints the help and exits 0.
    public func parse(_ arguments: [String]) throws(CommandFailure) -> ToolCommandLine {
        var line = ToolCommandLine()
        var index = 0
        var onlyPositionals = false
        func optionNamed(_ name: String) -> ToolOption? { options.first { $0.name == name } }
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if onlyPositionals || !word.hasPrefix("-") || word == "-" {
                line.positionals.append(word)
                continue
            }
            if word == "--" { onlyPositionals = true; continue }
            if word == "-h" || word == "--help" { printHelpAndExit() }
            guard word.hasPrefix("--") else { throw usage("unknown option '\(word)'") }
            var name = String(word.dropFirst(2))
            var inlineValue: String? = nil
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if let option = optionNamed(name) {
                switch option.kind {
                case .flag, .invertibleFlag:
                    if inlineValue != nil { throw usage("--\(name) takes no value") }
                    line.flags[name] = true
                case .value:
                    if let inlineValue {
                        line.values[name, default: []].append(inlineValue)
                    } else if index < arguments.count, !arguments[index].hasPrefix("--") || Double(arguments[index]) != nil {
                        line.values[name, default: []].append(arguments[index])
                        index += 1
                    } else {
                        throw usage("missing value for '\(option.synopsis)'")
                    }
                }
            } else if name.hasPrefix("no-"), let option = optionNamed(String(name.dropFirst(3))), case .invertibleFlag = option.kind {
                line.flags[option.name] = false
            } else {
                throw usage("unknown option '\(word)'")
            }
        }
        // Every declared positional is required; a repeating last one takes one or more.
        if line.positionals.count < self.arguments.count {
            throw usage("missing the argument \(self.arguments[line.positionals.count].synopsis)")
        }
        if !(self.arguments.last?.repeating ?? false), line.positionals.count > self.arguments.count {
            throw usage("unexpected argument '\(line.positionals[self.arguments.count])'")
        }
        return line
    }

    /// A usage error that says where the help is.
    public func usage(_ problem: String) -> CommandFailure {
        CommandFailure.usage("\(problem) (see '\(commandName) --help')")
    }

    /// The help, in the layout of swift-argument-parser's, so that the tools and the roles read alike.
    public var help: String {
        var text = ToolDescription.wrapped("OVERVIEW: \(abstract)", width: 80, indent: 0) + "\n\n"
        if !discussion.isEmpty { text += ToolDescription.wrapped(discussion, width: 80, indent: 0) + "\n\n" }
        if subtools.isEmpty {
            var usage = "USAGE: \(commandName)"
            for option in options { usage += " [\(option.synopsis)]" }
            for argument in arguments { usage += " \(argument.synopsis)" }
            text += ToolDescription.wrapped(usage, width: 80, indent: 0) + "\n\n"
        } else {
            text += "USAGE: \(commandName) <subcommand>\n\n"
        }
        if !arguments.isEmpty {
            text += "ARGUMENTS:\n"
            for argument in arguments { text += ToolDescription.entry(argument.synopsis, argument.help) }
            text += "\n"
        }
        text += "OPTIONS:\n"
        for option in options {
            text += ToolDescription.entry(option.synopsis, option.help + (option.defaultText.map { " (default: \($0))" } ?? ""))
        }
        text += ToolDescription.entry("-h, --help", "Show help information.")
        if !subtools.isEmpty {
            text += "\nSUBCOMMANDS:\n"
            for tool in subtools { text += ToolDescription.entry(tool.path.last ?? "", tool.abstract) }
            text += "\n  See '\(commandName) <subcommand> --help' for detailed help.\n"
        }
        return text
    }

    /// Prints the help and exits 0.
    public func printHelpAndExit() -> Never {
        writeToStandardOutput(help)
        Foundation.exit(0)
    }

    /// One line of an ARGUMENTS, OPTIONS or SUBCOMMANDS list: the name in a 24-column field, the text wrapped.
    static func entry(_ name: String, _ help: String) -> String {
        let indent = 26
        let lead = "  " + name
        let body = wrapped(help, width: 80, indent: indent)
        if lead.count <= indent - 2 {
            return lead + String(repeating: " ", count: indent - lead.count) + body.dropFirst(indent) + "\n"
        }
        return lead + "\n" + body + "\n"
    }

    /// `text` wrapped at `width` columns, every line indented by `indent` spaces.
    static func wrapped(_ text: String, width: Int, indent: Int) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if !line.isEmpty, indent + line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        if !line.isEmpty { lines.append(line) }
        let pad = String(repeating: " ", count: indent)
        return lines.map { pad + $0 }.joined(separator: "\n")
    }
}

extension ToolArgument {
    /// `<name>` or `<name> ...`.
    var synopsis: String { repeating ? "<\(name)> ..." : "<\(name)>" }
}

/// What a tool's command line said.
public struct ToolCommandLine: Sendable {
    var flags: [String: Bool] = [:]
    var values: [String: [String]] = [:]
    /// The positional arguments, in order.
    public var positionals: [String] = []

    /// Whether a flag was given (for an invertible one, its last spelling), else `defaultValue`.
    public func flag(_ name: String, default defaultValue: Bool = false) -> Bool { flags[name] ?? defaultValue }

    /// The last value given for an option, nil when it was not given.
    public func value(_ name: String) -> String? { values[name]?.last }

    /// Every value given for an option, in order.
    public func values(_ name: String) -> [String] { values[name] ?? [] }

    /// An option's value as an integer in `range`, `defaultValue` when not given.
    public func integer<Number: FixedWidthInteger>(_ name: String, in range: ClosedRange<Number>, default defaultValue: Number?,
                                                   tool: ToolDescription) throws(CommandFailure) -> Number? {
        guard let text = value(name) else { return defaultValue }
        guard let number = Number(text), range.contains(number) else {
            throw tool.usage("--\(name) '\(text)' is not a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
