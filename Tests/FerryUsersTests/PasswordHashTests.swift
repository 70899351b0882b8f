import Testing

@testable import FerryUsers

@Suite("Password hashing")
struct PasswordHashTests {
    @Test("hash and verify round trip", arguments: [cheapScrypt, cheapPBKDF2])
    func roundTrip(algorithm: PasswordHashAlgorithm) throws {
        let encoded = try PasswordHasher.hash("correct horse", algorithm: algorithm)
        #expect(PasswordHasher.verify("correct horse", against: encoded))
        #expect(!PasswordHasher.verify("correct horsE", against: encoded))
        #expect(!PasswordHasher.verify("", against: encoded))
        #expect(PasswordHasher.algorithm(of: encoded) == algorithm)
    }

    @Test("the encoded formats")
    func formats() throws {
        let scrypt = try PasswordHasher.hash("pw", algorithm: cheapScrypt)
        let pbkdf2 = try PasswordHasher.hash("pw", algorithm: cheapPBKDF2)
        #expect(scrypt.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(pbkdf2.hasPrefix("$pbkdf2-sha256$i=1000$"))
        for encoded in [scrypt, pbkdf2] {
            let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
            #expect(fields.count == 5)
            #expect(Base64.decode(fields[3])?.count == 16)
            #expect(Base64.decode(fields[4])?.count == 32)
            #expect(!fields[3].contains("=") && !fields[4].contains("="))
        }
    }

    @Test("the recommended default is scrypt ln=15, r=8, p=1")
    func recommendedDefault() throws {
        #expect(PasswordHashAlgorithm.recommended == .scrypt(logN: 15, r: 8, p: 1))
        let encoded = try PasswordHasher.hash("s3cret")
        #expect(encoded.hasPrefix("$scrypt$ln=15,r=8,p=1$"))
        #expect(PasswordHasher.algorithm(of: encoded) == .recommended)
        #expect(PasswordHasher.verify("s3cret", against: encoded))
        #expect(!PasswordHasher.verify("s3cret ", against: encoded))
    }

    @Test("each hash has a fresh salt")
    func saltDiffers() throws {
        let first = try PasswordHasher.hash("same", algorithm: cheapScrypt)
        let second = try PasswordHasher.hash("same", algorithm: cheapScrypt)
        #expect(first != second)
        let salt = { (encoded: String) in encoded.split(separator: "$", omittingEmptySubsequences: false)[3] }
        #expect(salt(first) != salt(second))
        #expect(PasswordHasher.verify("same", against: first))
        #expect(PasswordHasher.verify("same", against: second))
    }

    @Test("non-ASCII and raw-byte passwords")
    func nonASCII() throws {
        let encoded = try PasswordHasher.hash("pässwörd ✓", algorithm: cheapScrypt)
        #expect(PasswordHasher.verify(Password("pässwörd ✓"), against: encoded))
        #expect(PasswordHasher.verify(Password(bytes: Array("pässwörd ✓".utf8)), against: encoded))
        #expect(!PasswordHasher.verify("passwora ✓", against: encoded))
        let raw = try PasswordHasher.hash(Password(bytes: [0xFF, 0x00, 0xFE]), algorithm: cheapPBKDF2)
        #expect(PasswordHasher.verify(Password(bytes: [0xFF, 0x00, 0xFE]), against: raw))
        #expect(!PasswordHasher.verify(Password(bytes: [0xFF, 0x00]), against: raw))
    }

    static let salt = Base64.encode(Array(repeating: 7, count: 16))
    static let key = Base64.encode(Array(repeating: 9, count: 32))

    @Test(
        "malformed and tampered hashes are rejected without crashing",
        arguments: [
            "",
            "$",
            "plain text",
            "!",
            "$scrypt$ln=10,r=8,p=1$",
            "$scrypt$ln=10,r=8,p=1$\(salt)",
            "$scrypt$ln=10,r=8,p=1$\(salt)$",
            "$scrypt$ln=10,r=8,p=1$$\(key)",
            "$scrypt$ln=10,r=8,p=1$\(salt)$\(key)$extra",
            "scrypt$ln=10,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=10,r=8,p=1$!!!notbase64$\(key)",
            "$scrypt$ln=10,r=8,p=1$\(salt)$\(key)=",
            "$scrypt$ln=10,r=8,p=1$\(salt)==$\(key)",
            "$scrypt$ln=10,r=8,p=1$\(salt)$A",
            "$scrypt$ln=10,r=8,p=1$AAAA$\(key)",
            "$scrypt$ln=10,r=8,p=1$\(salt)$AAAA",
            "$scrypt$ln=10,r=8$\(salt)$\(key)",
            "$scrypt$r=8,ln=10,p=1$\(salt)$\(key)",
            "$scrypt$ln=10,r=8,p=1,x=1$\(salt)$\(key)",
            "$scrypt$ln=10,ln=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=-1,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=+10,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=0,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=23,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=40,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=99999999999999999999,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=22,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=10,r=0,p=1$\(salt)$\(key)",
            "$scrypt$ln=10,r=8,p=0$\(salt)$\(key)",
            "$scrypt$ln=10,r=1000000,p=1$\(salt)$\(key)",
            "$scrypt$ln=10,r=8,p=1000000$\(salt)$\(key)",
            "$scrypt$ln=20,r=32,p=16$\(salt)$\(key)",
            "$pbkdf2-sha256$i=0$\(salt)$\(key)",
            "$pbkdf2-sha256$i=20000000$\(salt)$\(key)",
            "$pbkdf2-sha256$rounds=1000$\(salt)$\(key)",
            "$pbkdf2-sha256$i=1000,r=8$\(salt)$\(key)",
            "$pbkdf2-sha512$i=1000$\(salt)$\(key)",
            "$argon2id$v=19$m=65536,t=3,p=4$\(salt)$\(key)",
            "$SCRYPT$ln=10,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=10,r=8,p=1$\(salt)$\(key)\u{0}",
            "$scrypt$ln=1０,r=8,p=1$\(salt)$\(key)",
        ]
    )
    func malformed(encoded: String) {
        #expect(!PasswordHasher.verify("pw", against: encoded))
        #expect(PasswordHasher.algorithm(of: encoded) == nil)
    }

    @Test("a well-formed hash with a changed key or salt no longer verifies")
    func tampered() throws {
        let encoded = try PasswordHasher.hash("pw", algorithm: cheapScrypt)
        var fields = encoded.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        var key = try #require(Base64.decode(fields[4][...]))
        key[0] ^= 1
        fields[4] = Base64.encode(key)
        let changedKey = fields.joined(separator: "$")
        #expect(PasswordHasher.algorithm(of: changedKey) == cheapScrypt)
        #expect(!PasswordHasher.verify("pw", against: changedKey))

        fields = encoded.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        fields[3] = Base64.encode(Array(repeating: 1, count: 16))
        #expect(!PasswordHasher.verify("pw", against: fields.joined(separator: "$")))

        fields = encoded.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        fields[2] = "ln=11,r=8,p=1"
        #expect(!PasswordHasher.verify("pw", against: fields.joined(separator: "$")))
    }

    @Test("a very long encoded string is rejected")
    func tooLong() {
        let encoded = "$scrypt$ln=10,r=8,p=1$\(String(repeating: "A", count: 10_000))$\(Self.key)"
        #expect(!PasswordHasher.verify("pw", against: encoded))
        #expect(PasswordHasher.algorithm(of: encoded) == nil)
    }

    @Test(
        "hashing with parameters outside the limits throws",
        arguments: [
            PasswordHashAlgorithm.scrypt(logN: 0, r: 8, p: 1),
            .scrypt(logN: 23, r: 8, p: 1),
            .scrypt(logN: 22, r: 8, p: 1),
            .scrypt(logN: 10, r: 0, p: 1),
            .scrypt(logN: 10, r: 8, p: 0),
            .scrypt(logN: 10, r: 8, p: 17),
            .pbkdf2SHA256(rounds: 0),
            .pbkdf2SHA256(rounds: 10_000_001),
        ]
    )
    func invalidParameters(algorithm: PasswordHashAlgorithm) {
        #expect(throws: PasswordHashError.self) {
            try PasswordHasher.hash("pw", algorithm: algorithm)
        }
    }

    @Test("algorithm descriptions")
    func algorithmDescriptions() {
        #expect("\(PasswordHashAlgorithm.recommended)" == "scrypt(ln=15,r=8,p=1)")
        #expect("\(PasswordHashAlgorithm.pbkdf2SHA256(rounds: 600_000))" == "pbkdf2-sha256(i=600000)")
    }

    @Test("the dummy hash is well-formed, uses the same algorithm and matches nothing")
    func dummyHash() {
        let dummy = PasswordHasher.dummyHash(algorithm: cheapScrypt)
        #expect(PasswordHasher.algorithm(of: dummy) == cheapScrypt)
        #expect(!PasswordHasher.verify("", against: dummy))
        #expect(PasswordHasher.dummyHash(algorithm: cheapScrypt) != dummy)
    }
}

@Suite("Password redaction")
struct PasswordTests {
    static let secret = "hunter2-Sup3rS3cret"

    @Test("a password never shows its text")
    func redacted() {
        let password = Password(Self.secret)
        var dumped = ""
        dump(password, to: &dumped)
        var dumpedArray = ""
        dump([password], to: &dumpedArray)
        let renderings = [
            password.description,
            password.debugDescription,
            "\(password)",
            String(describing: password),
            String(reflecting: password),
            "\([password])",
            "\(Optional(password) as Any)",
            "\((user: "bob", password: password))",
            dumped,
            dumpedArray,
        ]
        for text in renderings {
            #expect(!text.contains(Self.secret))
            #expect(!text.contains("hunter"))
            #expect(text.contains("******"))
        }
        #expect(password.description == "******")
        #expect(password.debugDescription == "******")
        #expect(Mirror(reflecting: password).children.isEmpty)
    }

    @Test("a password keeps its UTF-8 bytes")
    func bytes() {
        #expect(Password("é").bytes == [0xC3, 0xA9])
        let literal: Password = "abc"
        #expect(literal.bytes == Array("abc".utf8))
        #expect(Password(bytes: [0, 255]).bytes == [0, 255])
    }
}
