import MaskingRules
import ServiceKit

/// The masking rules file, read by the relay (to hand each page its rules) and the filter
/// (to enforce them).
public enum MaskingRulesConfiguration {
    public static let variable = EnvironmentVariable(
        "MASKING_RULES", default: "",
        "Masking rules file (JSON, docs/masking.md), reloaded on change or SIGHUP; empty: the built-in rules only.")

    /// The rules source, or a configuration error naming the variable and what is wrong.
    public static func load(_ environment: ServiceEnvironment) throws -> MaskingRulesSource {
        let path = environment.string(variable)
        do {
            return try MaskingRulesSource(path: path)
        } catch {
            throw ConfigurationError(variable: variable.name, value: path, expected: "a valid rules file (\(error))")
        }
    }
}
