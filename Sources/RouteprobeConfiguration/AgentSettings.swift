import Foundation
import RouteprobeCore
import Yams

/// The agent's settings as a config file (YAML or JSON) or the flags give them: every key is also a flag,
/// every field optional and as written. `AgentConfiguration.resolve` merges flags over the file over the
/// defaults into the typed configuration.
///
/// ```yaml
/// nodeName: node-a
/// clusterMap: /etc/routeprobe/cluster-map.yaml
/// interval: 5s
/// timeout: 1s
/// failuresToOpen: 2
/// syslog: local            # local | unix:PATH | udp:HOST:PORT | tcp:HOST:PORT
/// captureDir: /var/lib/routeprobe/pcap
/// aggregator: https://routeprobe-aggregator:9800
/// aggregatorCA: /etc/routeprobe/tls/ca.crt   # the CA that signed the aggregator's certificate
/// tokenFile: /var/run/secrets/routeprobe/token   # read again when it changes (a projected token rotates)
/// plainHTTP: false         # true allows an http:// aggregator (labs)
/// nodeIP: 192.168.0.193    # with an aggregator and no cluster map: what this node registers
/// podCIDRs: [172.16.0.0/24]
/// podTargets: [172.16.0.12]
/// instanceID: i-0abc1234      # the cloud's machine id, as VPC route entries name it
/// ```
public struct AgentSettings: Sendable, Decodable {
    public var nodeName: String?
    public var clusterMap: String?
    public var interval: String?
    public var timeout: String?
    public var failuresToOpen: Int?
    public var syslog: String?
    public var metricsListen: String?
    public var captureDir: String?
    public var aggregator: String?
    public var tokenFile: String?
    public var aggregatorCA: String?
    public var plainHTTP: Bool?
    public var nodeIP: String?
    public var podCIDRs: [String]?
    public var podTargets: [String]?
    public var instanceID: String?

    /// Work inside this network namespace (labs); a flag only.
    public var netns: String?

    /// Empty settings: every value from elsewhere or the defaults.
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case nodeName, clusterMap, interval, timeout, failuresToOpen, syslog, metricsListen, captureDir, aggregator, tokenFile
        case aggregatorCA, plainHTTP
        case nodeIP, podCIDRs, podTargets, instanceID
    }

    /// These settings with every value `other` sets taking precedence (flags over the file).
    public func overridden(by other: AgentSettings) -> AgentSettings {
        var merged = self
        merged.nodeName = other.nodeName ?? nodeName
        merged.clusterMap = other.clusterMap ?? clusterMap
        merged.interval = other.interval ?? interval
        merged.timeout = other.timeout ?? timeout
        merged.failuresToOpen = other.failuresToOpen ?? failuresToOpen
        merged.syslog = other.syslog ?? syslog
        merged.metricsListen = other.metricsListen ?? metricsListen
        merged.captureDir = other.captureDir ?? captureDir
        merged.aggregator = other.aggregator ?? aggregator
        merged.tokenFile = other.tokenFile ?? tokenFile
        merged.aggregatorCA = other.aggregatorCA ?? aggregatorCA
        merged.plainHTTP = other.plainHTTP ?? plainHTTP
        merged.nodeIP = other.nodeIP ?? nodeIP
        merged.podCIDRs = other.podCIDRs ?? podCIDRs
        merged.podTargets = other.podTargets ?? podTargets
        merged.instanceID = other.instanceID ?? instanceID
        merged.netns = other.netns ?? netns
        return merged
    }

    /// Reads a config file; unknown keys are an error (a typo must not be ignored silently).
    public static func load(path: String) throws(ConfigurationError) -> AgentSettings {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError("cannot read config \(path): \((error as NSError).localizedDescription)")
        }
        return try parse(text, source: path)
    }

    /// Parses config text; `source` names it in errors.
    public static func parse(_ text: String, source path: String) throws(ConfigurationError) -> AgentSettings {
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let node = try? YAMLText.compose(text), case .mapping(let mapping) = node {
            for key in mapping.keys {
                if let name = key.string, !known.contains(name) {
                    throw ConfigurationError("config \(path): unknown key '\(name)' (known: \(known.sorted().joined(separator: ", ")))")
                }
            }
        }
        do {
            return try YAMLText.decode(AgentSettings.self, from: text)
        } catch {
            throw ConfigurationError("config \(path): \(String(describing: error).split(separator: "\n").first ?? "not YAML or JSON")")
        }
    }
}
