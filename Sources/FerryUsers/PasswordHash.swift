import Crypto
import Foundation
import _CryptoExtras

/// A password hashing algorithm together with its cost parameters.
public enum PasswordHashAlgorithm: Sendable, Equatable, CustomStringConvertible {
    /// scrypt with N = 2^`logN`, block size `r` and parallelism `p`. Memory use is about 128 × N × r bytes.
    case scrypt(logN: Int, r: Int, p: Int)
    /// PBKDF2 with HMAC-SHA256 and the given number of iterations.
    case pbkdf2SHA256(rounds: Int)

    /// The algorithm used for new passwords: scrypt with N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s).
    public static let recommended = PasswordHashAlgorithm.scrypt(logN: 15, r: 8, p: 1)

    /// The algorithm in the same notation as in an encoded hash, e.g. `scrypt(ln=15,r=8,p=1)`.
    public var description: String {
        switch self {
        case .scrypt(let logN, let r, let p):
            return "scrypt(ln=\(logN),r=\(r),p=\(p))"
        case .pbkdf2SHA256(let rounds):
            return "pbkdf2-sha256(i=\(rounds))"
        }
    }

    /// Why the parameters are outside the accepted limits, or nil when they are acceptable.
    ///
    /// The limits keep a tampered database row from making a single verification use gigabytes of memory or
    /// minutes of CPU time.
    var parameterProblem: String? {
        switch self {
        case .scrypt(let logN, let r, let p):
            guard (1...PasswordHasher.maxScryptLogN).contains(logN) else {
                return "scrypt ln must be between 1 and \(PasswordHasher.maxScryptLogN), got \(logN)"
            }
            guard (1...PasswordHasher.maxScryptR).contains(r) else {
                return "scrypt r must be between 1 and \(PasswordHasher.maxScryptR), got \(r)"
            }
            guard (1...PasswordHasher.maxScryptP).contains(p) else {
                return "scrypt p must be between 1 and \(PasswordHasher.maxScryptP), got \(p)"
            }
            let n = 1 << logN
            guard 128 * n * r <= PasswordHasher.maxScryptMemory else {
                return "scrypt parameters ln=\(logN), r=\(r) need more than \(PasswordHasher.maxScryptMemory >> 20) MiB"
            }
            guard n * r * p <= PasswordHasher.maxScryptWork else {
                return "scrypt parameters ln=\(logN), r=\(r), p=\(p) need too much CPU time"
            }
            return nil
        case .pbkdf2SHA256(let rounds):
            guard (1...PasswordHasher.maxPBKDF2Rounds).contains(rounds) else {
                return "PBKDF2 rounds must be between 1 and \(PasswordHasher.maxPBKDF2Rounds), got \(rounds)"
            }
            return nil
        }
    }
}

/// An error thrown by ``PasswordHasher/hash(_:algorithm:)``.
public enum PasswordHashError: Error, CustomStringConvertible, Equatable {
    /// The algorithm's cost parameters are outside the accepted limits.
    case invalidParameters(String)
    /// The key derivation function itself failed.
    case derivationFailed(String)

    /// A sentence describing the problem.
    public var description: String {
        switch self {
        case .invalidParameters(let reason):
            return "invalid password hash parameters: \(reason)"
        case .derivationFailed(let reason):
            return "password hashing failed: \(reason)"
        }
    }
}

/// Hashes and verifies passwords, stored as PHC-style strings.
///
/// Formats (salt and key in standard base64 without padding):
/// - `$scrypt$ln=15,r=8,p=1$<salt>$<key>`
/// - `$pbkdf2-sha256$i=600000$<salt>$<key>`
///
/// All functions are synchronous and CPU-heavy (about 0.1 s with the recommended parameters in a release build):
/// never call them on an event loop. ``Authenticator`` runs them on its own thread pool.
public enum PasswordHasher {
    /// The number of random salt bytes in a new hash.
    static let saltByteCount = 16
    /// The number of derived key bytes in a new hash.
    static let keyByteCount = 32
    /// Salt lengths accepted when verifying.
    static let acceptedSaltByteCounts = 8...64
    /// Key lengths accepted when verifying.
    static let acceptedKeyByteCounts = 16...64

    /// The largest accepted scrypt log2(N).
    static let maxScryptLogN = 22
    /// The largest accepted scrypt block size r.
    static let maxScryptR = 32
    /// The largest accepted scrypt parallelism p.
    static let maxScryptP = 16
    /// The most memory (128 × N × r bytes) one scrypt computation may use: 1 GiB.
    static let maxScryptMemory = 1 << 30
    /// The most work (N × r × p) one scrypt computation may do: 128 times the recommended parameters.
    static let maxScryptWork = 1 << 25
    /// The largest accepted PBKDF2 iteration count.
    static let maxPBKDF2Rounds = 10_000_000

    /// Hashes a password with a fresh random salt.
    ///
    /// - Parameters:
    ///   - password: The clear-text password.
    ///   - algorithm: The algorithm and cost parameters; ``PasswordHashAlgorithm/recommended`` by default.
    /// - Returns: The encoded hash, e.g. `$scrypt$ln=15,r=8,p=1$…$…`, to store in the user database.
    /// - Throws: ``PasswordHashError`` when the parameters are outside the accepted limits.
    public static func hash(
        _ password: Password,
        algorithm: PasswordHashAlgorithm = .recommended
    ) throws -> String {
        if let problem = algorithm.parameterProblem {
            throw PasswordHashError.invalidParameters(problem)
        }
        let salt = Self.randomBytes(count: Self.saltByteCount)
        let key: SymmetricKey
        do {
            key = try Self.deriveKey(password, salt: salt, algorithm: algorithm, byteCount: Self.keyByteCount)
        } catch {
            throw PasswordHashError.derivationFailed(String(describing: error))
        }
        return Self.encode(algorithm: algorithm, salt: salt, key: key.withUnsafeBytes { Array($0) })
    }

    /// Checks a password against an encoded hash in constant time.
    ///
    /// - Parameters:
    ///   - password: The clear-text password to check.
    ///   - encoded: A hash made by ``hash(_:algorithm:)``.
    /// - Returns: `true` when the password matches. `false` when it does not, and also when `encoded` is malformed
    ///   or its parameters are outside the accepted limits (this function never traps).
    public static func verify(_ password: Password, against encoded: String) -> Bool {
        guard let parsed = ParsedHash(encoded) else {
            return false
        }
        guard
            let derived = try? Self.deriveKey(
                password,
                salt: parsed.salt,
                algorithm: parsed.algorithm,
                byteCount: parsed.key.count
            )
        else {
            return false
        }
        // SymmetricKey's == is a constant-time comparison.
        return derived == SymmetricKey(data: parsed.key)
    }

    /// The algorithm and parameters an encoded hash was made with.
    ///
    /// Compare the result with the current algorithm to decide whether a stored hash should be upgraded.
    ///
    /// - Parameter encoded: An encoded hash.
    /// - Returns: The algorithm, or nil when `encoded` is malformed or its parameters are outside the accepted
    ///   limits (``verify(_:against:)`` would always return `false` for it).
    public static func algorithm(of encoded: String) -> PasswordHashAlgorithm? {
        ParsedHash(encoded)?.algorithm
    }

    /// Builds an encoded hash from its parts.
    static func encode(algorithm: PasswordHashAlgorithm, salt: [UInt8], key: [UInt8]) -> String {
        let head: String
        switch algorithm {
        case .scrypt(let logN, let r, let p):
            head = "$scrypt$ln=\(logN),r=\(r),p=\(p)"
        case .pbkdf2SHA256(let rounds):
            head = "$pbkdf2-sha256$i=\(rounds)"
        }
        return "\(head)$\(Base64.encode(salt))$\(Base64.encode(key))"
    }

    /// An encoded hash that no password matches but whose verification costs the same as a real one.
    ///
    /// Used to spend the same work on unknown users as on known ones.
    static func dummyHash(algorithm: PasswordHashAlgorithm) -> String {
        Self.encode(
            algorithm: algorithm,
            salt: Self.randomBytes(count: Self.saltByteCount),
            key: Self.randomBytes(count: Self.keyByteCount)
        )
    }

    private static func deriveKey(
        _ password: Password,
        salt: [UInt8],
        algorithm: PasswordHashAlgorithm,
        byteCount: Int
    ) throws -> SymmetricKey {
        switch algorithm {
        case .scrypt(let logN, let r, let p):
            return try KDF.Scrypt.deriveKey(
                from: password.bytes,
                salt: salt,
                outputByteCount: byteCount,
                rounds: 1 << logN,
                blockSize: r,
                parallelism: p
            )
        case .pbkdf2SHA256(let rounds):
            return try KDF.Insecure.PBKDF2.deriveKey(
                from: password.bytes,
                salt: salt,
                using: .sha256,
                outputByteCount: byteCount,
                unsafeUncheckedRounds: rounds
            )
        }
    }

    private static func randomBytes(count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}

/// The parts of an encoded hash, parsed and checked against the limits.
private struct ParsedHash {
    let algorithm: PasswordHashAlgorithm
    let salt: [UInt8]
    let key: [UInt8]

    init?(_ encoded: String) {
        // "$id$params$salt$key" splits into ["", id, params, salt, key].
        guard encoded.utf8.count <= 512 else {
            return nil
        }
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty else {
            return nil
        }
        guard let params = Self.parameters(fields[2]) else {
            return nil
        }
        let algorithm: PasswordHashAlgorithm
        switch fields[1] {
        case "scrypt":
            guard params.map(\.name) == ["ln", "r", "p"] else {
                return nil
            }
            algorithm = .scrypt(logN: params[0].value, r: params[1].value, p: params[2].value)
        case "pbkdf2-sha256":
            guard params.map(\.name) == ["i"] else {
                return nil
            }
            algorithm = .pbkdf2SHA256(rounds: params[0].value)
        default:
            return nil
        }
        guard algorithm.parameterProblem == nil,
            let salt = Base64.decode(fields[3]),
            PasswordHasher.acceptedSaltByteCounts.contains(salt.count),
            let key = Base64.decode(fields[4]),
            PasswordHasher.acceptedKeyByteCounts.contains(key.count)
        else {
            return nil
        }
        self.algorithm = algorithm
        self.salt = salt
        self.key = key
    }

    /// Parses `a=1,b=2` into name/value pairs; values are 1 to 9 plain decimal digits.
    private static func parameters(_ text: Substring) -> [(name: Substring, value: Int)]? {
        var result: [(name: Substring, value: Int)] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = item.split(separator: "=", omittingEmptySubsequences: false)
            guard pair.count == 2, !pair[0].isEmpty, (1...9).contains(pair[1].utf8.count),
                pair[1].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                let value = Int(pair[1])
            else {
                return nil
            }
            result.append((name: pair[0], value: value))
        }
        return result
    }
}

/// Standard base64 without padding, as used in PHC strings.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.last == "=" {
            text.removeLast()
        }
        return text
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        let isAlphabet: (UInt8) -> Bool = { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                return true
            default:
                return false
            }
        }
        guard !text.isEmpty, text.utf8.allSatisfy(isAlphabet) else {
            return nil
        }
        let remainder = text.utf8.count % 4
        guard remainder != 1 else {
            return nil
        }
        let padded = String(text) + String(repeating: "=", count: (4 - remainder) % 4)
        guard let data = Data(base64Encoded: padded) else {
            return nil
        }
        return Array(data)
    }
}
