import Testing

@testable import FerryServer

#if canImport(Glibc)
    import Glibc
#endif

@Suite("open-file limit")
struct DescriptorLimitTests {
    @Test("the soft limit is raised to the hard one, and connections are fitted to it")
    func raise() {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        #expect(getrlimit(resource, &limit) == 0)
        var lowered = limit
        lowered.rlim_cur = min(limit.rlim_max, 512)
        #expect(setrlimit(resource, &lowered) == 0)
        let now = DescriptorLimit.raiseToHardLimit()
        var after = rlimit()
        #expect(getrlimit(resource, &after) == 0)
        #expect(after.rlim_cur == limit.rlim_max)
        #expect(now == Int(clamping: limit.rlim_max))
        #expect(DescriptorLimit.connections(fitting: 1024) == 240)
        #expect(DescriptorLimit.connections(fitting: 10) == 1)
    }
}
