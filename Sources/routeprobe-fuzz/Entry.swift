import Foundation

#if ROUTEPROBE_FUZZING
/// libFuzzer's entry: the harness is chosen by ROUTEPROBE_FUZZ_HARNESS (scripts/fuzz.sh sets it).
private let harness: Harness = {
    let name = ProcessInfo.processInfo.environment["ROUTEPROBE_FUZZ_HARNESS"] ?? ""
    guard let harness = Harness(rawValue: name) else {
        FileHandle.standardError.write(Data("set ROUTEPROBE_FUZZ_HARNESS to one of: \(Harness.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return harness
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    harness.run(bytes)
    return 0
}
#else
/// Without libFuzzer: `routeprobe-fuzz HARNESS FILE...` runs each file through the harness and prints the
/// outcome, to replay what the fuzzer found.
@main
enum FuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let names = Harness.allCases.map(\.rawValue).joined(separator: ", ")
        guard let name = arguments.first, let harness = Harness(rawValue: name) else {
            FileHandle.standardError.write(Data("usage: routeprobe-fuzz HARNESS FILE... (harnesses: \(names))\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("routeprobe-fuzz: cannot read \(path)\n".utf8))
                exit(1)
            }
            print("\(path): \(harness.run(Array(data)))")
        }
    }
}
#endif
