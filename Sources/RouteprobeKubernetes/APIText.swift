/// Text the API server keeps only so much of.
public enum APIText {
    /// The most an Event's or a Node condition's message keeps: 1 KiB.
    public static let messageBytes = 1024

    /// `text` cut to at most `bytes` bytes of UTF-8, at a character boundary; unchanged when it fits.
    public static func limited(_ text: String, toBytes bytes: Int = messageBytes) -> String {
        guard text.utf8.count > bytes else { return text }
        var used = 0
        var end = text.startIndex
        for index in text.indices {
            let size = text[index].utf8.count
            if used + size > bytes { break }
            used += size
            end = text.index(after: index)
        }
        return String(text[..<end])
    }
}
