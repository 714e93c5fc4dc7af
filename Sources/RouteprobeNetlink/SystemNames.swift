import Foundation
import RouteprobeCore

extension IPRoute2Names {
    /// The names iproute2 on this machine uses: the built-in ones plus `/etc/iproute2/rt_*` and their `.d`
    /// directories. Missing files are skipped, as iproute2 skips them.
    public static func loadSystem(directory: String = "/etc/iproute2") -> IPRoute2Names {
        var names = IPRoute2Names()
        let sources: [(String, File)] = [("rt_tables", .tables), ("rt_protos", .protocols), ("rt_scopes", .scopes),
                                         ("rt_realms", .realms), ("rt_dsfield", .dsfield)]
        for (file, kind) in sources {
            if let text = try? String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8) {
                names.load(text, from: kind)
            }
            let confDirectory = "\(directory)/\(file).d"
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: confDirectory)) ?? []
            for entry in entries.sorted() where entry.hasSuffix(".conf") {
                if let text = try? String(contentsOfFile: "\(confDirectory)/\(entry)", encoding: .utf8) {
                    names.load(text, from: kind)
                }
            }
        }
        return names
    }
}
