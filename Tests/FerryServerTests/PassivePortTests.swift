import Testing

@testable import FerryServer

@Suite("passive port candidates")
struct PassivePortTests {
    @Test(
        "distinct ports inside the range, in a different order each time",
        arguments: [1024...1088, 30000...30999, 2000...65535]
    )
    func candidates(range: ClosedRange<Int>) {
        var firsts = Set<Int>()
        for _ in 0..<50 {
            let ports = PassivePort.candidatePorts(in: range)
            #expect(ports.count == 64)
            #expect(Set(ports).count == ports.count)
            #expect(ports.allSatisfy(range.contains))
            firsts.insert(ports[0])
        }
        #expect(firsts.count > 10)
    }

    @Test("a range no larger than the tries is used whole, shuffled")
    func smallRange() {
        let ports = PassivePort.candidatePorts(in: 40000...40009)
        #expect(ports.sorted() == Array(40000...40009))
    }
}
