import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a pipe to its end on a thread of its own with plain `read(2)`, retrying on EINTR.
/// Foundation's `availableData` and `readDataToEndOfFile` trap when a read is interrupted by a
/// signal, and tests get signals: every child that exits sends SIGCHLD.
public enum PipeReader {
    /// Calls `chunk` with each piece read, then `done` at the end of the pipe, on a new thread.
    public static func read(_ handle: FileHandle, chunk: @escaping @Sendable (Data) -> Void, done: @escaping @Sendable () -> Void = {}) {
        let descriptor = handle.fileDescriptor
        Thread {
            drain(descriptor, chunk)
            done()
        }.start()
    }

    /// Everything until the end of the pipe, read on this thread.
    public static func readAll(_ handle: FileHandle) -> Data {
        var data = Data()
        drain(handle.fileDescriptor) { data.append($0) }
        return data
    }

    private static func drain(_ descriptor: Int32, _ chunk: (Data) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                chunk(Data(buffer[0..<count]))
            } else if count < 0, errno == EINTR {
                continue
            } else {
                return // the end of the pipe, or it is gone
            }
        }
    }

    /// Everything until the end of the pipe.
    public static func readToEnd(_ handle: FileHandle) async -> Data {
        let collected = LockedData()
        return await withCheckedContinuation { continuation in
            read(handle, chunk: { collected.append($0) }, done: { continuation.resume(returning: collected.value) })
        }
    }
}

/// Bytes appended from one thread and read from another.
final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) { lock.withLock { data.append(more) } }
    var value: Data { lock.withLock { data } }
}
