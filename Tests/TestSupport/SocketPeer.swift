import Foundation
import HTTPTypes
import HummingbirdTLS
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// A WebSocket client for tests: send text, await the next received text, see how it closed.
public final class SocketPeer: Sendable {
    /// Messages received and not yet taken, and whether the socket has closed.
    final class Inbox: Sendable {
        let state = Mutex<(messages: [String], closed: Bool)>(([], false))
    }

    private let inbox = Inbox()
    private enum Command: Sendable { case text(String), rawText([UInt8]), close }
    private let outgoing: AsyncStream<Command>.Continuation
    private let task: Task<WebSocketCloseFrame?, any Error>
    public let url: String

    /// `tls`: for `wss://` URLs, e.g. trusting a test CA; `headers`: more upgrade request headers
    /// (e.g. `X-Forwarded-For`).
    public init(_ url: String, origin: String? = nil, maxFrameSize: Int = 8 << 20, tls: TLSConfiguration? = nil,
                headers extra: [String: String] = [:]) {
        self.url = url
        let (outbox, outgoing) = AsyncStream<Command>.makeStream()
        self.outgoing = outgoing
        let inbox = self.inbox
        var headers = HTTPFields()
        if let origin { headers[.origin] = origin }
        for (name, value) in extra { if let name = HTTPField.Name(name) { headers[name] = value } }
        task = Task {
            defer { inbox.state.withLock { $0.closed = true } }
            return try await WebSocketClient.connect(
                url: url, configuration: .init(maxFrameSize: maxFrameSize, additionalHeaders: headers),
                tlsConfiguration: tls, logger: Logger(label: "test-socket")
            ) { inbound, outbound, _ in
                // The connection lives as long as the server keeps it; the writer serves sends.
                let writer = Task {
                    for await command in outbox {
                        switch command {
                        case let .text(text): try await outbound.write(.text(text))
                        case let .rawText(bytes):
                            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes))))
                        case .close: try await outbound.close(.normalClosure, reason: "test done")
                        }
                    }
                }
                defer { writer.cancel() }
                for try await message in inbound.messages(maxSize: maxFrameSize) {
                    if case let .text(text) = message { inbox.state.withLock { $0.messages.append(text) } }
                }
            }
        }
    }

    public func send(_ text: String) {
        outgoing.yield(.text(text))
    }

    /// A text frame of these bytes as they are (e.g. invalid UTF-8, which `send` cannot make).
    public func sendRawText(_ bytes: [UInt8]) {
        outgoing.yield(.rawText(bytes))
    }

    public func send(_ object: [String: Any]) {
        send(frame(object))
    }

    /// The next received message, or nil if the socket closed (or nothing came in time).
    public func next(within limit: Duration = .seconds(20)) async -> String? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let (message, closed) = inbox.state.withLock { box -> (String?, Bool) in
                box.messages.isEmpty ? (nil, box.closed) : (box.messages.removeFirst(), false)
            }
            if let message { return message }
            if closed { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// The next message as a JSON object.
    public func nextJSON(within limit: Duration = .seconds(20)) async -> [String: Any]? {
        guard let text = await next(within: limit) else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    /// Skips messages until one of type `t` (e.g. "session" notices in between).
    /// When none comes, the test output says what came instead (the failure alone would not).
    public func next(type: String, within limit: Duration = .seconds(20)) async -> [String: Any]? {
        let deadline = ContinuousClock.now + limit
        var skipped: [String] = []
        while ContinuousClock.now < deadline, let text = await next(within: deadline - ContinuousClock.now) {
            let message = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
            if message?["t"] as? String == type { return message }
            skipped.append(String(text.prefix(300)))
        }
        let closed = inbox.state.withLock { $0.closed }
        FileHandle.standardError.write(Data(
            "error: \(url) gave no '\(type)' (\(closed ? "closed" : "open")); it sent: \(skipped.suffix(5))\n".utf8))
        return nil
    }

    /// Whether no message of type `t` comes within `limit` (others are skipped).
    public func nothing(ofType type: String, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, let text = await next(within: deadline - ContinuousClock.now) {
            let message = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
            if message?["t"] as? String == type { return false }
        }
        return true
    }

    /// Skips messages until a session notice of `event` (e.g. `mode-changed`).
    public func next(event: String, within limit: Duration = .seconds(20)) async -> [String: Any]? {
        let deadline = ContinuousClock.now + limit
        while let notice = await next(type: "session", within: deadline - ContinuousClock.now) {
            if notice["event"] as? String == event { return notice }
        }
        return nil
    }

    /// Whether the connection has ended (messages received before may still be unread).
    public var isClosed: Bool { inbox.state.withLock { $0.closed } }

    /// How the server closed the socket (waits for it).
    public func closed() async throws -> WebSocketCloseFrame? {
        try await task.value
    }

    /// Closes from this side, politely.
    public func close() {
        outgoing.yield(.close)
    }
}
