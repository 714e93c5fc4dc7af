import Testing
import RouteprobeKubernetes

@Suite struct APITextTests {
    @Test("a message over 1 KiB is cut at a character boundary, never sent whole; one that fits is unchanged")
    func messagesAreCutToWhatTheAPIKeeps() {
        let fits = String(repeating: "a", count: 1024)
        #expect(APIText.limited(fits) == fits)
        // The 1,024th byte falls inside the two-byte "é": the cut leaves it out rather than the whole limit.
        let straddling = String(repeating: "a", count: 1023) + "é and more"
        #expect(APIText.limited(straddling) == String(repeating: "a", count: 1023))
        let long = String(repeating: "route ", count: 400)
        #expect(APIText.limited(long).utf8.count == 1024)
        #expect(long.hasPrefix(APIText.limited(long)))
        #expect(APIText.limited("😀😀", toBytes: 7) == "😀")
    }
}
