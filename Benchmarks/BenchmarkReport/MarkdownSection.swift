import Foundation

/// Writes a benchmark's results into its own section of a Markdown file (between
/// `<!-- name:start -->` and `<!-- name:end -->`), leaving the rest of the file as it is.
public enum MarkdownSection {
    public static func write(_ content: String, section name: String, into path: String) throws {
        let start = "<!-- \(name):start -->", end = "<!-- \(name):end -->"
        var text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "# Benchmarks\n"
        if let from = text.range(of: start), let to = text.range(of: end), from.upperBound <= to.lowerBound {
            text.replaceSubrange(from.upperBound..<to.lowerBound, with: "\n\(content)\n")
        } else {
            text += "\n\(start)\n\(content)\n\(end)\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
