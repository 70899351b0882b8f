/// What TLS session resumption Ferry gets from swift-nio-ssl 2.37.6 (BoringSSL), established by reading its
/// sources (`Sources/NIOSSL/*.swift`, `Sources/CNIOBoringSSL/ssl/*`) and by `openssl s_client -sess_out/-sess_in`
/// against a NIOSSL server (see the project's STACK notes). The README's FTPS section states these facts.
///
/// ## Server side: resumption works, by default, per `NIOSSLContext`
/// * NIOSSL never touches session settings: the Swift sources contain no `SSL_CTX_set_session_cache_mode`,
///   `SSL_OP_NO_TICKET`, ticket-key or session-id-context call, and `TLSConfiguration` has no option for them.
///   BoringSSL's defaults therefore apply to every `NIOSSLContext`:
///   * an in-memory **server session cache** (`session_cache_mode = SSL_SESS_CACHE_SERVER`, up to
///     `SSL_SESSION_CACHE_MAX_SIZE_DEFAULT` = 20,480 sessions) used for TLS 1.2 session-ID resumption;
///   * **session tickets** (TLS 1.2 stateless tickets and TLS 1.3 PSK tickets) encrypted with a random key that
///     each `SSL_CTX` generates itself and rotates every 48 h (`SSL_DEFAULT_TICKET_KEY_ROTATION_INTERVAL`),
///     still accepting tickets of the previous key for one more interval;
///   * lifetimes: 2 h for TLS 1.2 sessions (`SSL_DEFAULT_SESSION_TIMEOUT`), up to 2 days for TLS 1.3 tickets
///     (`SSL_DEFAULT_SESSION_PSK_DHE_TIMEOUT`); TLS 1.3 resumption always uses (EC)DHE (`psk_dhe_ke`), so it
///     keeps forward secrecy.
/// * Both the cache and the ticket key belong to the `SSL_CTX`, that is to one `NIOSSLContext`. Therefore:
///   * the control and data connections must be served from the **same** `NIOSSLContext` for a client's data
///     connection to resume its control session (this is what FileZilla, lftp `ssl:reuse`… expect of vsftpd-like
///     servers); ``TLSContextProvider`` gives one context to both;
///   * after ``TLSContextProvider/reload(from:)`` (SIGHUP) the new context has a new ticket key and an empty cache:
///     no earlier session can be resumed on it. A session should keep the context it took at AUTH TLS for its
///     data connections, so a reload does not break resumption in the middle of a session.
///
/// ## Server side: no way to tell whether a connection resumed
/// * NIOSSL exposes no `SSL_session_reused` equivalent: `NIOSSLHandler`'s public per-connection state is only
///   `tlsVersion`, `peerCertificate`, `peerValidatedCertificateChain` (plus the ALPN protocol in
///   `TLSUserEvent.handshakeCompleted(negotiatedProtocol:)`); its `SSLConnection` and the `SSL*` are internal, and
///   the `CNIOBoringSSL` module is not a product of the package.
/// * None of the public callbacks distinguishes a resumed handshake: `sslContextCallback` (BoringSSL's `cert_cb`)
///   runs before the session lookup, so it runs for both; the verification callbacks only run when a client
///   certificate is verified; the key-log callback writes the same labels either way.
/// * Consequence: Ferry cannot enforce vsftpd's `require_ssl_reuse` (data connection must resume the control
///   session). The available binding of a data connection to its session is the peer address check (the data
///   connection's remote IP must equal the control connection's), which the server must do for PROT P too.
///
/// ## Client side: no session reuse
/// * NIOSSL has no client-side session API: no `SSL_set_session`/`SSL_get1_session`, no new-session callback,
///   and BoringSSL's default cache mode (`SSL_SESS_CACHE_SERVER`) does not cache client sessions. Every client
///   connection made with NIOSSL performs a full handshake, and tickets the server sends are discarded.
/// * Consequence for the `ferry` client: servers that require the data connection to resume the control
///   session (vsftpd with `require_ssl_reuse=YES`, the default; FileZilla Server; ProFTPD with
///   `TLSOptions` lacking `NoSessionReuseRequired`) refuse its PROT P data connections, typically with
///   "522 SSL connection failed; session reuse required". This is a known limitation to document.
public enum TLSSessionResumption {
    /// A NIOSSL server resumes TLS 1.2 (session cache and tickets) and TLS 1.3 (PSK tickets) sessions by
    /// default, between connections made from the same `NIOSSLContext`.
    public static let serverResumesSessions = true

    /// A NIOSSL server cannot find out whether a given connection was resumed (no `SSL_session_reused`).
    public static let serverCanDetectResumption = false

    /// A NIOSSL client cannot offer a previous session (no client session cache or `SSL_set_session`).
    public static let clientCanResumeSessions = false

    /// Sessions cannot be resumed across ``TLSContextProvider/reload(from:)``: the new context starts with a new
    /// ticket key and an empty session cache.
    public static let resumptionSurvivesReload = false
}
