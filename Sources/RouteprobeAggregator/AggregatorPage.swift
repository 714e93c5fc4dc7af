import RouteprobeCore

/// The aggregator's page: open findings above the reachability matrix (sources down, pod CIDRs across),
/// drawn as a coloured grid in plain HTML and CSS, no JavaScript; it reloads itself every 5 s.
enum AggregatorPage {
    static func render(findings: [Finding], sources: [String], cidrs: [(cidr: IPPrefix, node: String)],
                       cells: [AggregatorState.MatrixCell], counts: (registered: Int, reporting: Int, accepted: Int)) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
            <title>routeprobe: \(findings.isEmpty ? "all pod CIDRs reachable" : "\(findings.count) open finding\(findings.count == 1 ? "" : "s")")</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2329;background:#fff}
            h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
            .meta{color:#5b6670} .finding{border-left:6px solid #c62828;background:#fdecea;padding:8px 12px;margin:8px 0}
            .finding.warning{border-color:#ef6c00;background:#fff3e0} .finding b{font-family:ui-monospace,monospace}
            .fix{color:#37474f} .ok{border-left:6px solid #2e7d32;background:#e8f5e9;padding:8px 12px}
            table{border-collapse:collapse} th,td{border:1px solid #cfd8dc;padding:4px 8px;text-align:center}
            th{background:#eceff1;font-weight:600} th.src{text-align:left}
            td.reply{background:#66bb6a;color:#fff} td.refused{background:#9ccc65} td.timeout{background:#e53935;color:#fff}
            td.icmpError{background:#fb8c00;color:#fff} td.localError{background:#8e24aa;color:#fff} td.none{background:#f5f5f5;color:#90a4ae}
            .legend span{display:inline-block;padding:2px 8px;margin-right:6px}
            </style></head><body>
            <h1>routeprobe</h1>
            <div class="meta">\(counts.registered) agents registered, \(counts.reporting) reporting, \(counts.accepted) reports received</div>
            <h2>Open findings</h2>

            """
        if findings.isEmpty {
            html += "<div class=\"ok\">No open findings: every probed pod CIDR is reachable.</div>\n"
        }
        for finding in findings {
            let warning = finding.kind.severity == .warning ? " warning" : ""
            var title = finding.kind.rawValue
            if let cidr = finding.cidr, let hop = finding.expectedNextHop { title += " \(cidr) -> \(hop.text)" }
            else if let hop = finding.expectedNextHop { title += " \(hop.text)" }
            else if let cidr = finding.cidr { title += " \(cidr)" }
            let agreement = finding.evidence.probing > 0 ? " — \(finding.evidence.agreeing)/\(finding.evidence.probing) sources agree" : ""
            html += "<div class=\"finding\(warning)\" id=\"\(escape(finding.id))\"><b>\(escape(title))</b>\(escape(agreement))"
            html += "<div>\(escape(finding.message))</div><div class=\"fix\">Fix: \(escape(finding.remediation))</div></div>\n"
        }
        html += "<h2>Reachability matrix</h2>\n"
        html += "<div class=\"legend\"><span class=\"\" style=\"background:#66bb6a;color:#fff\">reply</span><span style=\"background:#9ccc65\">refused (path works)</span>"
        html += "<span style=\"background:#e53935;color:#fff\">timeout</span><span style=\"background:#fb8c00;color:#fff\">ICMP error</span>"
        html += "<span style=\"background:#8e24aa;color:#fff\">local error</span><span style=\"background:#f5f5f5\">not probed</span></div><br>\n"
        if sources.isEmpty {
            html += "<p class=\"meta\">No reports yet.</p>\n"
        } else {
            var byKey: [String: AggregatorState.MatrixCell] = [:]
            for cell in cells { byKey["\(cell.source)|\(cell.cidr)"] = cell }
            html += "<table><tr><th class=\"src\">source \\ pod CIDR</th>"
            for column in cidrs { html += "<th>\(escape(column.cidr.description))<br><span class=\"meta\">\(escape(column.node))</span></th>" }
            html += "</tr>\n"
            for source in sources {
                html += "<tr><th class=\"src\">\(escape(source))</th>"
                for column in cidrs {
                    if let cell = byKey["\(source)|\(column.cidr)"] {
                        let rtt = cell.rttMs.map { String(format3($0)) + " ms" } ?? cell.outcome.rawValue
                        html += "<td class=\"\(cell.outcome.rawValue)\" title=\"\(escape(cell.verdict.rawValue))\">\(escape(rtt))</td>"
                    } else {
                        html += "<td class=\"none\">–</td>"
                    }
                }
                html += "</tr>\n"
            }
            html += "</table>\n"
        }
        html += "</body></html>\n"
        return html
    }

    private static func format3(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return scaled < 10 ? String(scaled) : String(Int(value.rounded()))
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
