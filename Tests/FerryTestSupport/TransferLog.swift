import Logging
import NIOConcurrencyHelpers

/// The metadata of the server's `transfer` log lines (one per finished transfer), the most recent 1,000.
public final class TransferLog: Sendable {
    private let entries = NIOLockedValueBox<[[String: String]]>([])

    public init() {}

    /// Every transfer logged so far, oldest first: `command`, `path`, `bytes`, `result`, and `via` when set.
    public var all: [[String: String]] { self.entries.withLockedValue { $0 } }

    fileprivate func record(_ metadata: [String: String]) {
        self.entries.withLockedValue { entries in
            if entries.count == 1000 { entries.removeFirst() }
            entries.append(metadata)
        }
    }

    /// Records `transfer` lines and nothing else.
    struct Handler: LogHandler {
        let log: TransferLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            guard event.message.description == "transfer" else { return }
            var fields: [String: String] = [:]
            for (key, value) in self.metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
                fields[key] = value.description
            }
            self.log.record(fields)
        }
    }
}
