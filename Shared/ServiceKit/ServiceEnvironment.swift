import Foundation

/// One environment variable a service reads, with its default and meaning (for docs and checks).
public struct EnvironmentVariable: Sendable, Hashable {
    public let name: String
    public let defaultValue: String
    public let meaning: String

    public init(_ name: String, default defaultValue: String, _ meaning: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.meaning = meaning
    }
}

/// A variable held a value that cannot be used; the message names the variable and the rule.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let variable: String
    public let value: String
    public let expected: String

    public init(variable: String, value: String, expected: String) {
        self.variable = variable
        self.value = value
        self.expected = expected
    }

    public var description: String { "\(variable)=\(value) is invalid: expected \(expected)" }
}

/// Typed reads of environment variables. Configuration comes only from the environment.
public struct ServiceEnvironment: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// Any of `variables` may be given as `NAME_FILE`, a file holding the value (Docker and
    /// Kubernetes secrets), so secrets need not sit in the environment; the file wins. Trailing
    /// newlines are dropped.
    public func resolvingFiles(for variables: [EnvironmentVariable]) throws -> ServiceEnvironment {
        var values = self.values
        for variable in variables {
            let fileVariable = variable.name + "_FILE"
            guard let path = values[fileVariable], !path.isEmpty else { continue }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(variable: fileVariable, value: path, expected: "a readable file holding \(variable.name)")
            }
            values[variable.name] = String(text.reversed().drop { $0 == "\n" || $0 == "\r" }.reversed())
        }
        return ServiceEnvironment(values)
    }

    public func string(_ variable: EnvironmentVariable) -> String {
        guard let value = values[variable.name], !value.isEmpty else { return variable.defaultValue }
        return value
    }

    public func int(_ variable: EnvironmentVariable, in range: ClosedRange<Int>) throws -> Int {
        let text = string(variable)
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(variable: variable.name, value: text, expected: "an integer in \(range)")
        }
        return value
    }

    public func seconds(_ variable: EnvironmentVariable, in range: ClosedRange<Double>) throws -> Duration {
        let text = string(variable)
        guard let value = Double(text), range.contains(value) else {
            throw ConfigurationError(variable: variable.name, value: text, expected: "seconds in \(range)")
        }
        return .milliseconds(Int64(value * 1000))
    }

    public func bool(_ variable: EnvironmentVariable) throws -> Bool {
        let text = string(variable).lowercased()
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(variable: variable.name, value: text, expected: "true or false")
        }
    }

    public func oneOf(_ variable: EnvironmentVariable, _ allowed: [String]) throws -> String {
        let text = string(variable)
        guard allowed.contains(text) else {
            throw ConfigurationError(variable: variable.name, value: text, expected: "one of \(allowed.joined(separator: ", "))")
        }
        return text
    }
}
