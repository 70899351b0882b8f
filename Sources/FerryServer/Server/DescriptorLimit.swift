#if canImport(Glibc)
    import Glibc
#endif

/// The process's limit of open file descriptors, and what it allows.
///
/// Each session holds one descriptor for its control connection, and while it transfers up to three more (its
/// passive listener, the data connection, the file). The default soft limit is often 1024, far below what
/// `maximumConnections` promises; the hard limit is what an operator allowed. The fit counts one descriptor a
/// session, so that the connections promised can all be held (most sessions are idle at any time); a transfer that
/// finds no descriptor left fails with its own error (425 or 451), and the session goes on.
public enum DescriptorLimit {
    /// Descriptors counted per connection when fitting `maximumConnections`.
    public static let perSession = 1
    /// Kept for the server itself (listeners, the store, logs, thread pools).
    public static let reserved = 64

    /// Raises the soft limit to the hard limit; returns the soft limit in force afterwards.
    @discardableResult
    public static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)  // RLIM_INFINITY is the largest value: clamped to Int.max
    }

    /// The most connections a limit of `descriptors` carries.
    public static func connections(fitting descriptors: Int) -> Int {
        max(1, (descriptors - Self.reserved) / Self.perSession)
    }
}
