import Testing

@testable import FerryServer

@Suite("upload batches")
struct UploadBatchesTests {
    @Test("bytes come out in order, in batches of the configured size, across both buffers")
    func order() {
        let batches = UploadBatches(size: 4096)
        let input = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var output: [UInt8] = []
        var sizes: [Int] = []
        var rest = input[...]
        while !rest.isEmpty {
            // Uneven pieces, as reads come.
            let piece = rest.prefix(1_500)
            var offset = 0
            while offset < piece.count {
                let copied = Array(piece).withUnsafeBytes {
                    batches.append(UnsafeRawBufferPointer(rebasing: $0[offset...]))
                }
                offset += copied
                if batches.isFull, let batch = batches.takeFilled() {
                    output += batch.bytes
                    sizes.append(batch.bytes.count)
                }
            }
            rest = rest.dropFirst(piece.count)
        }
        if let last = batches.takeFilled() {
            output += last.bytes
            sizes.append(last.bytes.count)
        }
        #expect(output == input)
        #expect(sizes == [4096, 4096, 1808])
        #expect(batches.takeFilled() == nil)
    }

    @Test("a full buffer takes nothing more until it is handed out")
    func full() {
        let batches = UploadBatches(size: 4096)
        let bytes = [UInt8](repeating: 1, count: 5000)
        #expect(bytes.withUnsafeBytes { batches.append($0) } == 4096)
        #expect(batches.isFull)
        #expect(bytes.withUnsafeBytes { batches.append($0) } == 0)
        let first = batches.takeFilled()
        #expect(first?.bytes.count == 4096)
        #expect(!batches.isFull)
        #expect(bytes.withUnsafeBytes { batches.append($0) } == 4096)
        // The second buffer is not the first one: the batch handed out is untouched.
        #expect(first?.bytes.allSatisfy { $0 == 1 } == true)
    }
}
