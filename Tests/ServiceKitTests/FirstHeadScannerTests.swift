import NIOCore
@testable import ServiceKit
import Testing

/// The connection guard finds the end of the first request head however the bytes are split.
@Suite struct FirstHeadScannerTests {
    private func scan(_ pieces: [String]) -> FirstHeadScanner {
        var scanner = FirstHeadScanner()
        for piece in pieces where !scanner.ended {
            scanner.scan(ByteBuffer(string: piece).readableBytesView)
        }
        return scanner
    }

    @Test func theBlankLineEndsTheHeadEvenWhenSplitAcrossReads() {
        #expect(scan(["GET / HTTP/1.1\r\nHost: a\r\n\r\n"]).ended)
        #expect(scan(["GET / HTTP/1.1\r\nHost: a\r", "\n", "\r", "\nbody"]).ended)
        #expect(scan(["GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n"]).ended)
    }

    @Test func bytesAreCountedUntilTheHeadEnds() {
        let open = scan(["GET / HTTP/1.1\r\n", "Host: a\r\n"])
        #expect(!open.ended)
        #expect(open.bytes == 25)
        let closed = scan(["GET / HTTP/1.1\r\n\r\nbody that is not counted"])
        #expect(closed.bytes == 18)
    }

    @Test func lineBreaksThatAreNotABlankLineDoNotEndIt() {
        #expect(!scan(["GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r"]).ended)
        #expect(!scan(["\r\r\n\n\r\n"]).ended)
    }
}
