import Foundation

/// What one scenario measured: one row of the output.
public struct ScenarioResult: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        case ok
        case error
        case unsupported
    }

    /// The main figure of a row, the one compared between servers.
    public struct Headline: Codable, Sendable {
        /// The metric's key in ``ScenarioResult/metrics``.
        public var metric: String
        /// Whether more is better (MB/s) or less (milliseconds, KiB).
        public var higherIsBetter: Bool
    }

    public var label: String
    public var scenario: String
    public var status: Status
    /// Figures by name; units are in the names (`mb_per_s` uses MB = 10^6 bytes).
    public var metrics: [String: Double]
    public var headline: Headline?
    /// The row in words.
    public var summary: String
    /// Wall time of the scenario.
    public var seconds: Double

    public init(
        label: String,
        scenario: String,
        status: Status,
        metrics: [String: Double] = [:],
        headline: Headline? = nil,
        summary: String,
        seconds: Double
    ) {
        self.label = label
        self.scenario = scenario
        self.status = status
        self.metrics = metrics
        self.headline = headline
        self.summary = summary
        self.seconds = seconds
    }

    /// `LABEL SCENARIO SUMMARY`, padded into columns.
    public var row: String {
        let label = self.label.padding(toLength: max(10, self.label.count), withPad: " ", startingAt: 0)
        let scenario = self.scenario.padding(toLength: max(15, self.scenario.count), withPad: " ", startingAt: 0)
        let status = self.status == .ok ? "" : "\(self.status.rawValue.uppercased()): "
        return "\(label) \(scenario) \(status)\(self.summary)"
    }

    /// The results as a JSON array (keys sorted, for diffs).
    public static func json(_ results: [ScenarioResult]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(results), as: UTF8.self)
    }
}
