extension Collection {
    /// The one element, nil when there are none or several.
    public var only: Element? { count == 1 ? first : nil }
}
