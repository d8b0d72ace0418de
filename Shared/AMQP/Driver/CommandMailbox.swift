import CRabbitMQShim
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where callers leave commands for the connection thread, and how that thread sleeps: in one
/// poll(2) on an eventfd (and the broker's socket when connected), woken by the next command.
final class CommandMailbox: @unchecked Sendable {
    private struct State {
        var commands: [Command] = []
        /// The thread is (about to be) in poll: the next command must wake it.
        var sleeping = false
        var closed = false
    }

    /// The most fast-path publishes waiting; beyond it `trySubmitPublish` refuses (back-pressure).
    let capacity: Int
    private let state = Mutex(State())
    private let wakeFD: Int32

    init(capacity: Int) {
        self.capacity = capacity
        wakeFD = cobrowse_wake_fd()
    }

    deinit {
        Glibc.close(wakeFD)
    }

    /// Leaves a command for the thread; false when the mailbox is closed (the caller fails it).
    func submit(_ command: Command) -> Bool {
        let (accepted, wake) = state.withLock { box -> (Bool, Bool) in
            guard !box.closed else { return (false, false) }
            box.commands.append(command)
            return (true, Self.takeSleeping(&box))
        }
        if wake { signal() }
        return accepted
    }

    /// Leaves a publish unless the mailbox is full (false) or closed (nil).
    func trySubmit(_ command: Command) -> Bool? {
        let (result, wake) = state.withLock { box -> (Bool?, Bool) in
            guard !box.closed else { return (nil, false) }
            guard box.commands.count < capacity else { return (false, false) }
            box.commands.append(command)
            return (true, Self.takeSleeping(&box))
        }
        if wake { signal() }
        return result
    }

    /// Everything submitted so far, oldest first.
    func take() -> [Command] {
        state.withLock { box in
            defer { box.commands = [] }
            return box.commands
        }
    }

    /// Whether the thread is in (or entering) its poll: the next command wakes it.
    var isWaiting: Bool { state.withLock { $0.sleeping } }

    /// No command is accepted from now on.
    func close() {
        state.withLock { $0.closed = true }
    }

    /// Sleeps until a command arrives, `socket` (if any) is readable, or `milliseconds` pass;
    /// returns at once when commands are already waiting.
    func wait(socket: Int32?, milliseconds: Int32) {
        let mayWait = state.withLock { box -> Bool in
            guard box.commands.isEmpty else { return false }
            box.sleeping = true
            return true
        }
        guard mayWait else { return }
        var fds = [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        if let socket { fds.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&fds, nfds_t(fds.count), max(0, milliseconds))
        if fds[0].revents != 0 {
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
        }
        state.withLock { $0.sleeping = false }
    }

    private static func takeSleeping(_ box: inout State) -> Bool {
        defer { box.sleeping = false }
        return box.sleeping
    }

    private func signal() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }
}

extension Duration {
    /// Whole milliseconds, clamped to what poll(2) takes.
    var pollMilliseconds: Int32 {
        Int32(clamping: components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
