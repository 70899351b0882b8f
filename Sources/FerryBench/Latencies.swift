import Histogram

/// Latencies of many operations (microsecond resolution, 3 significant digits), via HdrHistogram.
public struct Latencies: Sendable {
    fileprivate var histogram = Histogram<UInt64>(
        highestTrackableValue: 3_600_000_000,
        numberOfSignificantValueDigits: .three
    )

    public init() {}

    /// Records one duration.
    public mutating func record(_ duration: Duration) {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        _ = self.histogram.record(UInt64(clamping: max(1, micros)))
    }

    /// How many were recorded.
    public var count: Int { Int(self.histogram.totalCount) }

    /// The value at `percentile` (0–100), in seconds.
    public func seconds(atPercentile percentile: Double) -> Double {
        self.count == 0 ? 0 : Double(self.histogram.valueAtPercentile(percentile)) / 1e6
    }

    /// The longest, in seconds.
    public var maximum: Double { self.count == 0 ? 0 : Double(self.histogram.max) / 1e6 }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var inSeconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}

extension Latencies {
    /// Adds another set of latencies (e.g. one per worker).
    public mutating func merge(_ other: Latencies) {
        self.histogram.add(other.histogram)
    }
}
