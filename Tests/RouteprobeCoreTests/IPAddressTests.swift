import Testing
import RouteprobeCore

/// Address text must match glibc's inet_ntop, since iproute2 prints with it.
@Suite struct IPAddressTests {
    @Test(arguments: [
        ("::", "::"), ("::1", "::1"), ("1::", "1::"), ("2001:db8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"), // first of two equal runs
        ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),                                 // the longer run wins
        ("1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1"),                            // a single zero is not compressed
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"), ("::192.0.2.1", "::192.0.2.1"), ("::0.0.1.0", "::100"),
        ("FE80::ABCD", "fe80::abcd"), ("ff00::", "ff00::"),
    ])
    func ipv6TextMatchesInetNtop(input: String, expected: String) throws {
        let address = try #require(IPAddress(input))
        #expect(address.description == expected)
        #expect(IPAddress(expected) == address)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.04x", ":::", "1:::2", "1::2::3", "12345::",
                      "1:2:3:4:5:6:7:8:9", "g::1", "1:2:3:4:5:6:7", ":1::", "::1:", "1.2.3.4/24"])
    func rejectsMalformedText(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func bytesRoundTrip() throws {
        let v4 = try #require(IPAddress("192.168.0.193"))
        #expect(v4.bytes == [192, 168, 0, 193])
        #expect(IPAddress(bytes: v4.bytes) == v4)
        let v6 = try #require(IPAddress("2001:db8::c0a8:1"))
        #expect(IPAddress(bytes: v6.bytes) == v6)
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }

    @Test func prefixesClearHostBitsAndContainTheirAddresses() throws {
        let prefix = try #require(IPPrefix("172.16.1.77/24"))
        #expect(prefix.description == "172.16.1.0/24")
        #expect(prefix.contains(IPAddress("172.16.1.12")!))
        #expect(!prefix.contains(IPAddress("172.16.2.1")!))
        #expect(IPPrefix("0.0.0.0/0")!.contains(prefix))
        #expect(IPPrefix("2001:db8::/129") == nil)
        #expect(IPPrefix("10.0.0.0/") == nil)
        #expect(IPPrefix("2001:db8:0:1::/64")!.contains(IPAddress("2001:db8:0:1::5")!))
    }
}
