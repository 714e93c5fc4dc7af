import RouteprobeCore

/// Where a role hands the findings that opened and resolved: the alert service, or a test's recorder.
public protocol AlertSink: Sendable {
    /// Hands over events; returns at once.
    func send(_ events: [FindingEvent])
}

extension AlertService: AlertSink {}
