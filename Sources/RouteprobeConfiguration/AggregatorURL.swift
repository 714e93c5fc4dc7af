import Foundation

/// The aggregator's URL as the agent and `explain` take it: https, or http only when plain HTTP is allowed.
public enum AggregatorURL {
    /// Why `url` cannot be used (given `plainHTTP`), nil when it can; `plain` tells an http:// URL.
    public static func check(_ url: String, plainHTTP: Bool) -> (problem: String?, plain: Bool) {
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            return ("--aggregator '\(url)' must be an https:// URL, e.g. https://routeprobe-aggregator:9800", false)
        }
        let plain = parsed.scheme == "http"
        if plain && !plainHTTP {
            return ("--aggregator '\(url)' is plain HTTP: the token would cross the network in clear; use https:// (with --aggregator-ca), or --plain-http in a lab", true)
        }
        if !plain && plainHTTP { return ("--plain-http and an https:// --aggregator exclude each other", false) }
        return (nil, plain)
    }
}
