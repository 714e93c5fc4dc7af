import RouteprobeCore
import RouteprobeSystem

extension IPRoute2Names {
    /// The names iproute2 on this machine uses: the built-in ones plus `/etc/iproute2/rt_*` and their `.d`
    /// directories. Missing files are skipped, as iproute2 skips them.
    public static func loadSystem(directory: String = "/etc/iproute2") -> IPRoute2Names {
        var names = IPRoute2Names()
        let sources: [(String, File)] = [("rt_tables", .tables), ("rt_protos", .protocols), ("rt_scopes", .scopes),
                                         ("rt_realms", .realms), ("rt_dsfield", .dsfield)]
        func load(_ path: String, _ kind: File) {
            guard let bytes = try? Files.read(path) else { return }
            names.load(bytes: bytes, from: kind)
        }
        for (file, kind) in sources {
            load("\(directory)/\(file)", kind)
            let confDirectory = "\(directory)/\(file).d"
            let entries = (try? Files.entries(of: confDirectory)) ?? []
            for entry in entries.sorted() where entry.hasSuffix(".conf") { load("\(confDirectory)/\(entry)", kind) }
        }
        return names
    }
}
