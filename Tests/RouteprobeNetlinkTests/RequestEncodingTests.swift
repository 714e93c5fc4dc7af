import Testing
@testable import RouteprobeNetlink
import RouteprobeCore

/// The bytes routeprobe sends, checked against what the kernel echoed back in recorded answers.
@Suite struct RequestEncodingTests {
    @Test func aLookupRequestIsTheOneIPRouteGetSends() throws {
        // The kernel echoes the request inside NLMSG_ERROR: bytes 20... of the recorded error message.
        let recorded = try #require(try fixtureDatagrams("route-get-8.8.8.8-enetunreach.hex").first)
        let echoed = Array(recorded[20...])
        let ours = RoutingSocket.lookupRequest(IPAddress("8.8.8.8")!, from: nil, inputInterface: nil,
                                               outputInterface: nil, mark: nil, sequence: 4243)
        #expect(ours == echoed)
    }

    @Test func aLookupWithSourceAndInputInterfaceCarriesThem() {
        let request = RoutingSocket.lookupRequest(IPAddress("2001:db8::9")!, from: IPAddress("2001:db8::1"),
                                                  inputInterface: 7, outputInterface: nil, mark: nil, sequence: 1)
        #expect(request.count == 16 + 12 + 20 + 20 + 8)
        #expect(request[16] == 10)            // AF_INET6
        #expect(request[17] == 128)           // dst_len
        #expect(request[18] == 128)           // src_len
        #expect(request[24] == 0)             // no RTM_F_LOOKUP_TABLE for IPv6
        #expect(Array(request[68..<72]) == [8, 0, 3, 0]) // RTA_IIF header
        #expect(Array(request[72..<76]) == [7, 0, 0, 0])
    }

    @Test func aDumpRequestAsksForEveryEntry() {
        let request = RoutingSocket.dumpRequest(type: 26, header: [2] + [UInt8](repeating: 0, count: 11), sequence: 4242)
        let expected: [UInt8] = [
            0x1c, 0x00, 0x00, 0x00, // nlmsg_len 28
            0x1a, 0x00,             // RTM_GETROUTE
            0x01, 0x03,             // NLM_F_REQUEST | NLM_F_DUMP
            0x92, 0x10, 0x00, 0x00, // sequence 4242
            0x00, 0x00, 0x00, 0x00, // port 0: the kernel
            0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // rtmsg for AF_INET, all zero
        ]
        #expect(request == expected)
    }
}
