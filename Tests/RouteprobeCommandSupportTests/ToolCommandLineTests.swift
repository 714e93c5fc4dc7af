import Testing
import RouteprobeCommandSupport

/// The tools' command lines: what is read, what is refused and with which words, and the help.
@Suite struct ToolCommandLineTests {
    let tool = ToolDescription(
        path: ["probe"], abstract: "Probe targets.", discussion: "A discussion long enough to be wrapped at eighty columns, word by word, as the rest of the help is.",
        arguments: [ToolArgument("targets", help: "What to probe.", repeating: true)],
        options: [
            ToolOption("tcp", .value(placeholder: "tcp"), help: "A port."),
            ToolOption("icmp", .flag, help: "ICMP."),
            ToolOption("capture", .invertibleFlag, help: "Capture.", default: "--capture"),
        ])

    func problem(_ arguments: [String]) -> String? {
        do { _ = try tool.parse(arguments); return nil } catch { return error.message }
    }

    @Test func optionsFlagsAndPositionalsAreRead() throws {
        let line = try tool.parse(["10.0.0.1", "--tcp", "9700", "--icmp", "10.0.0.2", "--no-capture", "--tcp=80", "--", "--not-an-option"])
        #expect(line.positionals == ["10.0.0.1", "10.0.0.2", "--not-an-option"])
        #expect(line.value("tcp") == "80" && line.values("tcp") == ["9700", "80"], "the last value wins; all are kept")
        #expect(line.flag("icmp") && !line.flag("capture", default: true))
        #expect(try tool.parse(["x", "--capture"]).flag("capture", default: false))
        #expect(try tool.parse(["x"]).flag("capture", default: true), "not given: the default")
        #expect(try tool.parse(["x", "--tcp", "-1"]).value("tcp") == "-1", "a negative number is a value, to be refused by its reader")
    }

    @Test func badCommandLinesAreOneLineUsageErrors() {
        #expect(problem(["x", "--bogus"]) == "unknown option '--bogus' (see 'routeprobe probe --help')")
        #expect(problem(["x", "-q"]) == "unknown option '-q' (see 'routeprobe probe --help')")
        #expect(problem(["x", "--tcp"]) == "missing value for '--tcp <tcp>' (see 'routeprobe probe --help')")
        #expect(problem(["x", "--tcp", "--icmp"])?.hasPrefix("missing value for '--tcp <tcp>'") == true)
        #expect(problem(["x", "--icmp=yes"])?.hasPrefix("--icmp takes no value") == true)
        #expect(problem([]) == "missing the argument <targets> ... (see 'routeprobe probe --help')")
        #expect(problem(["--no-icmp", "x"])?.hasPrefix("unknown option '--no-icmp'") == true, "only invertible flags take --no-")
        let single = ToolDescription(path: ["route", "get"], abstract: "", arguments: [ToolArgument("address", help: "")])
        do { _ = try single.parse(["1.2.3.4", "5.6.7.8"]); Issue.record("a second address was taken") } catch {
            #expect(error.message == "unexpected argument '5.6.7.8' (see 'routeprobe route get --help')" && error.exitCode == 2)
        }
    }

    @Test func integersHaveRanges() throws {
        #expect(try tool.parse(["x", "--tcp", "9700"]).integer("tcp", in: UInt16(1)...UInt16.max, default: nil, tool: tool) == 9700)
        for bad in ["0", "70000", "port", "-1"] {
            do {
                _ = try tool.parse(["x", "--tcp", bad]).integer("tcp", in: UInt16(1)...UInt16.max, default: nil, tool: tool)
                Issue.record("\(bad) was taken")
            } catch {
                #expect(error.message.hasPrefix("--tcp '\(bad)' is not a number from 1 to 65535"))
            }
        }
        #expect(try tool.parse(["x"]).integer("tcp", in: UInt16(1)...UInt16.max, default: 7, tool: tool) == 7)
    }

    @Test func theHelpListsEverythingWrappedAtEightyColumns() {
        let help = tool.help
        #expect(help.hasPrefix("OVERVIEW: Probe targets.\n\nA discussion long enough"))
        #expect(help.contains("USAGE: routeprobe probe [--tcp <tcp>] [--icmp] [--[no-]capture] <targets> ..."))
        #expect(help.contains("\nARGUMENTS:\n  <targets> ...           What to probe.\n"))
        #expect(help.contains("  --[no-]capture          Capture. (default: --capture)\n"))
        #expect(help.contains("  -h, --help              Show help information.\n"))
        #expect(help.split(separator: "\n").allSatisfy { $0.count <= 80 })
    }
}
