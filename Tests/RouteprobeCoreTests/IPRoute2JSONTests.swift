import Testing
import RouteprobeCore

/// The iproute2 JSON rules that are easy to get wrong.
@Suite struct IPRoute2JSONTests {
    func json(_ route: Route, names: IPRoute2Names = .builtIn, tableFiltered: Bool = false) -> String {
        var writer = ByteWriter()
        IPRoute2RouteJSON(names: names, interfaceNames: [2: "eth0"], context: .init(tableFiltered: tableFiltered))
            .append(route, to: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test func theDefaultRouteAndMainTableAreImplicit() {
        let route = Route(family: .inet, gateway: IPAddress("192.168.0.253"), outputInterface: 2)
        #expect(json(route) == #"{"dst":"default","gateway":"192.168.0.253","dev":"eth0","flags":[]}"#)
    }

    @Test func otherTablesAreNamedUnlessOneTableWasAskedFor() {
        let route = Route(family: .inet, type: .blackhole, destinationAddress: IPAddress("172.16.1.0"), destinationLength: 24,
                          table: RouteTableID(rawValue: 100))
        #expect(json(route) == #"{"type":"blackhole","dst":"172.16.1.0/24","table":"100","flags":[]}"#)
        #expect(json(route, tableFiltered: true) == #"{"type":"blackhole","dst":"172.16.1.0/24","flags":[]}"#)
        var names = IPRoute2Names()
        names.load("# comment\n100\tpods\n0x65 other # trailing\nbogus line\n", from: .tables)
        #expect(json(route, names: names).contains(#""table":"pods""#))
        #expect(names.tableID(named: "other") == RouteTableID(rawValue: 101))
    }

    @Test func nameFilesReadAsIproute2ReadsThem() {
        var names = IPRoute2Names()
        names.load(bytes: Array("  # indented comment\r\n200\tpods\r\n0X66\tupper\n  7   spaced   extra words\nx12 bad\n300\n\n99 last".utf8),
                   from: .tables)
        #expect(names.tables[200] == "pods", "CR before the newline is not part of the name")
        #expect(names.tables[0x66] == "upper" && names.tables[7] == "spaced" && names.tables[99] == "last")
        #expect(names.tables[300] == nil, "an id without a name is skipped")
        #expect(!names.tables.values.contains("bad"))
        names.load(bytes: Array("300 big\n".utf8), from: .protocols)
        #expect(names.protocols[300] == nil, "protocol ids stop at 255")
        names.load("254 primary\n", from: .tables)
        #expect(names.tables[254] == "primary", "later entries override the built-in ones")
    }

    @Test func unknownProtocolsAndScopesPrintAsNumbers() {
        let route = Route(family: .inet, destinationAddress: IPAddress("10.0.0.0"), destinationLength: 8,
                          routeProtocol: RouteProtocol(rawValue: 77), scope: RouteScope(rawValue: 99))
        #expect(json(route) == #"{"dst":"10.0.0.0/8","protocol":"77","scope":"99","flags":[]}"#)
    }

    @Test func unknownInterfacesPrintAsIfN() {
        let route = Route(family: .inet6, destinationAddress: IPAddress("2001:db8::"), destinationLength: 64,
                          outputInterface: 9, metric: 1024, preference: 3)
        #expect(json(route) == #"{"dst":"2001:db8::/64","dev":"if9","metric":1024,"flags":[],"pref":"low"}"#)
    }

    @Test func controlCharactersAreEscaped() {
        var writer = ByteWriter()
        writer.writeJSONString("a\"b\\c\nd\u{01}")
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #""a\"b\\c\nd\u0001""#)
    }

    @Test func summaryCountsPerFamilyTableAndType() {
        var summary = RouteSummary()
        summary.add(Route(family: .inet))
        summary.add(Route(family: .inet))
        summary.add(Route(family: .inet, type: .local, table: .local))
        summary.add(Route(family: .inet6, multipath: [NextHop(), NextHop()]))
        let text = summary.render(names: .builtIn)
        #expect(summary.total == 4)
        #expect(summary.multipathRoutes == 1)
        #expect(text.contains("inet    main   unicast       2"))
        #expect(text.contains("inet    local  local         1"))
        #expect(text.hasSuffix("total 4 routes (inet 3, inet6 1); 1 multipath\n"))
    }
}
