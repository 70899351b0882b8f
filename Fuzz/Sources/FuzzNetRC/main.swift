// The client's `~/.netrc` reader, `NetRC.parse` (a local file, but one the user may have copied from anywhere).
//
// Invariants:
// - No trap, whatever the text (unterminated quotes, a dangling backslash, `macdef` without a body).
// - Lookups are consistent: the entry found for a host is that host's entry or the `default` entry, and a login
//   asked for is honoured (host names compare without case, logins exactly).
import FerryCLI
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let netrc = NetRC.parse(String(decoding: bytes(data, size), as: UTF8.self))
    for entry in netrc.entries {
        for host in [entry.machine ?? "example.net", "example.net"] {
            if let found = netrc.entry(host: host) {
                let matches = found.machine.map { $0.lowercased() == host.lowercased() } ?? true
                check(matches, "\(host) found \(found.machine ?? "default")")
            }
            if let login = entry.login, let found = netrc.entry(host: host, login: login) {
                check(found.login == login, "\(host) as \(login) found \(found.login ?? "-")")
            }
        }
    }
    return 0
}

runFuzzer(fuzzOne)
