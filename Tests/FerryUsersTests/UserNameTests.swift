import Testing

@testable import FerryUsers

@Suite("User names")
struct UserNameTests {
    @Test(
        "valid names",
        arguments: ["bob", "a.b-c_d", "B0b", "a", "a.", "x..y", "user-", "_svc", String(repeating: "a", count: 64)]
    )
    func valid(name: String) throws {
        try UserName.validate(name)
    }

    @Test(
        "invalid names",
        arguments: [
            ("", "must not be empty"),
            ("..", "must not start with '-' or '.'"),
            (".", "must not start with '-' or '.'"),
            (".hidden", "must not start with '-' or '.'"),
            ("-x", "must not start with '-' or '.'"),
            ("a/b", "may contain only letters, digits, '.', '_' and '-'"),
            ("a\\b", "may contain only letters, digits, '.', '_' and '-'"),
            (String(repeating: "a", count: 65), "is longer than 64 characters"),
            ("a b", "may contain only letters, digits, '.', '_' and '-'"),
            ("é", "may contain only letters, digits, '.', '_' and '-'"),
            ("a\u{0}b", "may contain only letters, digits, '.', '_' and '-'"),
            ("bob\r\n", "may contain only letters, digits, '.', '_' and '-'"),
            ("a:b", "may contain only letters, digits, '.', '_' and '-'"),
            ("Ｂob", "may contain only letters, digits, '.', '_' and '-'"),
        ]
    )
    func invalid(name: String, reason: String) {
        #expect(throws: UserStoreError.invalidName(name, reason: reason)) {
            try UserName.validate(name)
        }
    }

    @Test("error messages name the problem")
    func messages() {
        #expect(
            UserStoreError.invalidName("a/b", reason: "may contain only letters, digits, '.', '_' and '-'").description
                == "user name 'a/b' may contain only letters, digits, '.', '_' and '-'"
        )
        #expect(
            UserStoreError.invalidName("", reason: "must not be empty").description
                == "user name '' must not be empty"
        )
        // Control characters are escaped so the message stays on one printable line.
        let nul = UserStoreError.invalidName("a\u{0}b\n", reason: "x").description
        #expect(nul == "user name 'a\\u{0}b\\u{A}' x")
        let long = UserStoreError.invalidName(String(repeating: "a", count: 500), reason: "x").description
        #expect(long.count < 100)
    }
}
