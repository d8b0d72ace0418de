import Logging
import PostgresNIO

extension PostgresConnection {
    /// `query`, refused at once on a connection that has closed. postgres-nio 1.33 never answers
    /// a query written to a closed connection whose handlers are gone, and the pool may lease one
    /// just after the server went away: that would hold the registry's RPC consumer (one command
    /// at a time) for ever. What is left is the moment between this check and the write.
    @discardableResult
    func checkedQuery(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !isClosed else { throw PostgresSessionStore.Unavailable(description: "the connection to PostgreSQL has closed") }
        return try await self.query(query, logger: logger)
    }
}
