/// An RFC 5424 syslog message: header, structured data and the message, with every field made safe.
public struct SyslogMessage: Sendable, Hashable {
    /// Syslog severities (RFC 5424 section 6.2.1).
    public enum Severity: Int, Sendable {
        case emergency = 0, alert, critical, error, warning, notice, informational, debug
    }

    /// The facility (3 = daemon).
    public var facility: Int
    /// The severity.
    public var severity: Severity
    /// Seconds and microseconds since the epoch (UTC).
    public var seconds: Int
    public var microseconds: Int
    /// HOSTNAME, APP-NAME, PROCID and MSGID.
    public var hostname: String
    public var appName: String
    public var processID: String
    public var messageID: String
    /// One structured-data element: its SD-ID and parameters in order.
    public var structuredDataID: String?
    public var parameters: [(String, String)]
    /// The free-form message.
    public var message: String

    /// Builds a message.
    public init(facility: Int = 3, severity: Severity, seconds: Int, microseconds: Int = 0, hostname: String,
                appName: String = "routeprobe", processID: String, messageID: String, structuredDataID: String? = nil,
                parameters: [(String, String)] = [], message: String) {
        self.facility = facility
        self.severity = severity
        self.seconds = seconds
        self.microseconds = microseconds
        self.hostname = hostname
        self.appName = appName
        self.processID = processID
        self.messageID = messageID
        self.structuredDataID = structuredDataID
        self.parameters = parameters
        self.message = message
    }

    public static func == (lhs: SyslogMessage, rhs: SyslogMessage) -> Bool { lhs.formatted() == rhs.formatted() }
    public func hash(into hasher: inout Hasher) { hasher.combine(formatted()) }

    /// The message as RFC 5424 text, without a trailing newline (the transport frames it).
    public func formatted() -> String {
        let priority = facility * 8 + severity.rawValue
        var text = "<\(priority)>1 \(SyslogMessage.timestamp(seconds: seconds, microseconds: microseconds)) "
        text += SyslogMessage.headerField(hostname, limit: 255) + " "
        text += SyslogMessage.headerField(appName, limit: 48) + " "
        text += SyslogMessage.headerField(processID, limit: 128) + " "
        text += SyslogMessage.headerField(messageID, limit: 32) + " "
        if let structuredDataID {
            text += "[" + SyslogMessage.name(structuredDataID)
            for (key, value) in parameters {
                text += " " + SyslogMessage.name(key) + "=\"" + SyslogMessage.parameterValue(value) + "\""
            }
            text += "]"
        } else {
            text += "-"
        }
        text += " " + SyslogMessage.neutralised(message)
        return text
    }

    /// A header field: printable US-ASCII only (33-126), others become `_`; empty is the NILVALUE `-`.
    static func headerField(_ value: String, limit: Int) -> String {
        let cleaned = String(value.unicodeScalars.prefix(limit).map { scalar -> Character in
            (33...126).contains(scalar.value) ? Character(scalar) : "_"
        })
        return cleaned.isEmpty ? "-" : cleaned
    }

    /// An SD-NAME: printable US-ASCII except `=`, space, `]` and `"`, at most 32 characters.
    static func name(_ value: String) -> String {
        let cleaned = String(value.unicodeScalars.prefix(32).map { scalar -> Character in
            (33...126).contains(scalar.value) && !"= ]\"".unicodeScalars.contains(scalar) ? Character(scalar) : "_"
        })
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash, control characters neutralised.
    static func parameterValue(_ value: String) -> String {
        var result = ""
        for character in neutralised(value) {
            if character == "\"" || character == "\\" || character == "]" { result.append("\\") }
            result.append(character)
        }
        return result
    }

    /// Control characters (newlines included) become spaces, so one message is always one line.
    static func neutralised(_ value: String) -> String {
        String(value.unicodeScalars.map { scalar -> Character in
            scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) ? " " : Character(scalar)
        })
    }

    /// RFC 3339 UTC time with microseconds, computed without Foundation.
    static func timestamp(seconds: Int, microseconds: Int) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        // Civil from days (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(microseconds, 6))Z"
    }
}

extension SyslogMessage {
    /// The structured-data ID of routeprobe's parameters (32473 is the documentation enterprise number).
    public static let findingDataID = "routeprobe@32473"

    /// The alert for a finding that opened (`resolved: false`) or closed, from either role: MSGID the kind,
    /// the finding's fields as structured data, and a sentence that starts with the route entry concerned.
    /// An opening carries the kind's severity, a resolution is a notice.
    public static func alert(for finding: Finding, resolved: Bool, hostname: String, processID: String,
                             seconds: Int, microseconds: Int) -> SyslogMessage {
        var parameters: [(String, String)] = [("id", finding.id), ("state", resolved ? "resolved" : "open"),
                                              ("scope", finding.scope.rawValue)]
        if let cidr = finding.cidr { parameters.append(("cidr", cidr.description)) }
        if let hop = finding.expectedNextHop {
            parameters.append(("nextHopNode", hop.node))
            if let ip = hop.ip { parameters.append(("nextHopIP", ip.description)) }
        }
        if let hop = finding.actualNextHop {
            parameters.append(("actualNextHopNode", hop.node))
            if let ip = hop.ip { parameters.append(("actualNextHopIP", ip.description)) }
        }
        parameters.append(("sources", finding.sources.joined(separator: ",")))
        parameters.append(("agreeing", String(finding.evidence.agreeing)))
        parameters.append(("probing", String(finding.evidence.probing)))
        parameters.append(("sent", String(finding.evidence.sent)))
        parameters.append(("received", String(finding.evidence.received)))
        if let router = finding.evidence.router { parameters.append(("router", router.description)) }
        parameters.append(("basis", finding.evidence.basis.rawValue))
        let entry = finding.entry.map { ": \($0)" } ?? ""
        let seenFrom = finding.scope == .node ? ", seen from \(finding.source ?? "?")" : ""
        let text = resolved ? "resolved: \(finding.subject)\(entry)\(seenFrom)"
                            : "\(finding.subject)\(entry)\(seenFrom). \(finding.message) Fix: \(finding.remediation)"
        return SyslogMessage(severity: resolved ? .notice : finding.kind.severity, seconds: seconds, microseconds: microseconds,
                             hostname: hostname, processID: processID, messageID: finding.kind.rawValue,
                             structuredDataID: findingDataID, parameters: parameters, message: text)
    }
}
