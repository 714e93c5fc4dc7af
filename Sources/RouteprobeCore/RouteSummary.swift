/// Route counts per family, table and type: what `routeprobe routes --summary` prints.
public struct RouteSummary: Sendable, Equatable {
    /// One row: how many routes of one type one table of one family holds.
    public struct Key: Hashable, Sendable, Comparable {
        /// The family.
        public var family: AddressFamily
        /// The table.
        public var table: RouteTableID
        /// The type.
        public var type: RouteType

        public static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.family.rawValue, lhs.table, lhs.type) < (rhs.family.rawValue, rhs.table, rhs.type)
        }
    }

    /// The counts.
    public private(set) var counts: [Key: Int] = [:]
    /// Routes with more than one next hop.
    public private(set) var multipathRoutes = 0
    /// All routes counted.
    public private(set) var total = 0

    /// An empty summary.
    public init() {}

    /// Counts one route.
    public mutating func add(_ route: Route) {
        counts[Key(family: route.family, table: route.table, type: route.type), default: 0] += 1
        if !route.multipath.isEmpty { multipathRoutes += 1 }
        total += 1
    }

    /// The summary as aligned text: one line per family, table and type, then the totals.
    public func render(names: IPRoute2Names) -> String {
        var rows: [[String]] = [["FAMILY", "TABLE", "TYPE", "ROUTES"]]
        for key in counts.keys.sorted() {
            rows.append([key.family.description, names.tableName(key.table), key.type.name, String(counts[key]!)])
        }
        var text = TextTable.render(rows, rightAligned: [3])
        let perFamily = AddressFamily.allCases.map { family in
            "\(family) \(counts.filter { $0.key.family == family }.values.reduce(0, +))"
        }
        text += "total \(total) routes (\(perFamily.joined(separator: ", "))); \(multipathRoutes) multipath\n"
        return text
    }
}

/// Column-aligned plain text tables for terminal output.
public enum TextTable {
    /// Renders rows with two spaces between columns; columns listed in `rightAligned` are right-aligned.
    public static func render(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        guard let columnCount = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columnCount)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var text = ""
        for row in rows {
            var line = ""
            for (index, cell) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                let isLast = index == row.count - 1
                if rightAligned.contains(index) {
                    line += padding + cell
                } else {
                    line += isLast ? cell : cell + padding
                }
                if !isLast { line += "  " }
            }
            text += line + "\n"
        }
        return text
    }
}
