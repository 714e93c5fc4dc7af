/// The number-to-name tables iproute2 prints with (`/etc/iproute2/rt_tables`, `rt_protos`, `rt_scopes`,
/// `rt_realms`, `rt_dsfield` and their `.d/*.conf` directories), so routeprobe names things as `ip` does.
///
/// The values are built from the built-in defaults of iproute2 plus file texts the caller has read; this
/// type does no I/O.
public struct IPRoute2Names: Sendable {
    /// Table names by id.
    public private(set) var tables: [UInt32: String]
    /// Protocol names by id.
    public private(set) var protocols: [UInt32: String]
    /// Scope names by id.
    public private(set) var scopes: [UInt32: String]
    /// Realm names by id.
    public private(set) var realms: [UInt32: String]
    /// DS field names by value.
    public private(set) var dsfields: [UInt32: String]

    /// The names iproute2 knows without any file.
    public static let builtIn = IPRoute2Names()

    /// Builds the built-in tables.
    public init() {
        tables = [253: "default", 254: "main", 255: "local"]
        protocols = [0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra", 10: "mrt",
                     11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp", 18: "keepalived",
                     42: "babel", 99: "openr", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"]
        scopes = [0: "global", 255: "nowhere", 254: "host", 253: "link", 200: "site"]
        realms = [0: "unknown"]
        dsfields = [:]
    }

    /// Which file a text came from.
    public enum File: Sendable {
        /// `rt_tables` and `rt_tables.d/*.conf`.
        case tables
        /// `rt_protos` and `rt_protos.d/*.conf`.
        case protocols
        /// `rt_scopes`.
        case scopes
        /// `rt_realms`.
        case realms
        /// `rt_dsfield`.
        case dsfield
    }

    /// Adds the entries of one file's text (`ID NAME` lines, `#` comments, ids decimal or `0x` hex); later
    /// entries override earlier ones, as in iproute2. Malformed lines are skipped, as iproute2 skips them.
    public mutating func load(_ text: String, from file: File) { load(bytes: Array(text.utf8), from: file) }

    /// The same for the file's bytes, read as they are: every `routeprobe routes` reads five of these files.
    public mutating func load(bytes: [UInt8], from file: File) {
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") }
        var index = 0
        while index < bytes.count {
            var end = index
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            defer { index = end + 1 }
            var cursor = index
            while cursor < end, isBlank(bytes[cursor]) { cursor += 1 }
            if cursor == end || bytes[cursor] == UInt8(ascii: "#") { continue }
            let idStart = cursor
            while cursor < end, !isBlank(bytes[cursor]) { cursor += 1 }
            let idBytes = bytes[idStart..<cursor]
            while cursor < end, isBlank(bytes[cursor]) { cursor += 1 }
            let nameStart = cursor
            while cursor < end, !isBlank(bytes[cursor]) { cursor += 1 }
            guard cursor > nameStart else { continue }
            let id: UInt32?
            if idBytes.count > 2, idBytes.first == UInt8(ascii: "0"), idBytes.dropFirst().first == UInt8(ascii: "x") || idBytes.dropFirst().first == UInt8(ascii: "X") {
                id = UInt32(String(decoding: idBytes.dropFirst(2), as: UTF8.self), radix: 16)
            } else {
                id = UInt32(String(decoding: idBytes, as: UTF8.self))
            }
            guard let id else { continue }
            let name = String(decoding: bytes[nameStart..<cursor], as: UTF8.self)
            switch file {
            case .tables: tables[id] = name
            case .protocols where id < 256: protocols[id] = name
            case .scopes where id < 256: scopes[id] = name
            case .realms where id < 256: realms[id] = name
            case .dsfield where id < 256: dsfields[id] = name
            default: continue
            }
        }
    }

    /// The name of a table, or its number.
    public func tableName(_ id: RouteTableID) -> String { tables[id.rawValue] ?? String(id.rawValue) }

    /// The name of a protocol, or its number.
    public func protocolName(_ value: RouteProtocol) -> String {
        protocols[UInt32(value.rawValue)] ?? String(value.rawValue)
    }

    /// The name of a scope, or its number.
    public func scopeName(_ value: RouteScope) -> String { scopes[UInt32(value.rawValue)] ?? String(value.rawValue) }

    /// The name of a realm, or its number.
    public func realmName(_ value: UInt32) -> String { realms[value] ?? String(value) }

    /// The name of a DS field value, or `0xNN`.
    public func dsfieldName(_ value: UInt8) -> String {
        if let name = dsfields[UInt32(value)] { return name }
        return "0x" + hex2(value)
    }

    /// Resolves a table argument: `main`, `local`, `default`, a name from the files, or a number.
    public func tableID(named text: String) -> RouteTableID? {
        if let number = UInt32(text) { return RouteTableID(rawValue: number) }
        if text.hasPrefix("0x"), let number = UInt32(text.dropFirst(2), radix: 16) { return RouteTableID(rawValue: number) }
        return tables.first { $0.value == text }.map { RouteTableID(rawValue: $0.key) }
    }
}
