import Testing

@testable import FerryServer

#if canImport(Glibc)
    import Glibc
#endif

/// In process only what cannot disturb the tests running beside this one: the limit is raised, never lowered (a
/// lowered limit would make their sockets fail). `ferryd serve` under a low limit is tested in FerrydCLITests.
@Suite("open-file limit")
struct DescriptorLimitTests {
    @Test("the soft limit is raised to the hard one, and connections are fitted to it")
    func raise() {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        let now = DescriptorLimit.raiseToHardLimit()
        var after = rlimit()
        #expect(getrlimit(resource, &after) == 0)
        #expect(after.rlim_cur == after.rlim_max)
        #expect(now == Int(clamping: after.rlim_max))
        #expect(DescriptorLimit.connections(fitting: 1024) == 960)
        #expect(DescriptorLimit.connections(fitting: 10) == 1)
    }
}
