import ArgumentParser
import Foundation
import MaskingRules

/// `rules`: checks a masking rules file before it goes live, and explains what it does to a page.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check a masking rules file, or explain what it does to a page.",
        subcommands: [RulesCheckCommand.self, RulesExplainCommand.self])
}

/// Reads a file named on the command line, or says clearly why it cannot.
func readFile(_ path: String, what: String) throws -> Data {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CtlError("cannot read the \(what) '\(path)' (no such file, or not readable)")
    }
    return data
}

/// `rules check FILE [--urls FILE]`: every error and warning at once; exit 1 on any error.
struct RulesCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a rules file: unknown keys, unsupported selectors, URL patterns, rules that do nothing.",
        discussion: """
            Errors (the relay and the filter would refuse the file): unknown keys, selectors outside the \
            supported subset (with the position), bad sites, modes and detectors. Warnings (the file loads, \
            but a rule does nothing): URL patterns that match none of the sample URLs (--urls), and selectors \
            another rule set already covers on every page they apply to. Exit status 1 on any error \
            (or any warning with --strict).
            """)

    @Argument(help: "The rules file.") var file: String
    @Option(name: .customLong("urls"), help: ArgumentHelp("A file of sample page URLs, one per line, to check the URL patterns against.",
                                                        valueName: "file"))
    var urlsFile: String?
    @Flag(help: "Treat warnings as errors.") var strict = false

    func run() throws {
        let rules = try readFile(file, what: "rules file")
        var samples: [String] = []
        if let urlsFile {
            samples = String(decoding: try readFile(urlsFile, what: "URL list"), as: UTF8.self)
                .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            for url in samples where MaskingRules.address(of: url) == nil {
                throw CtlError("'\(url)' in \(urlsFile) is not an absolute page URL (https://shop.example/path)")
            }
        }
        let check = RulesCheck(json: rules, sampleURLs: samples)
        for finding in check.findings { print(finding) }
        let failed = !check.errors.isEmpty || (strict && !check.warnings.isEmpty)
        print("\(file): \(check.errors.count) error\(check.errors.count == 1 ? "" : "s"), "
            + "\(check.warnings.count) warning\(check.warnings.count == 1 ? "" : "s")")
        if failed { throw ExitCode(1) }
    }
}

/// `rules explain FILE URL [--html FILE]`: the rule sets a page gets and, given its HTML,
/// which elements each selector matches.
struct RulesExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain which rules apply to a page and which elements each matches.")

    @Argument(help: "The rules file.") var file: String
    @Argument(help: "The page's absolute URL.") var url: String
    @Option(help: ArgumentHelp("The page's HTML (saved from the browser), to list the elements each selector matches.",
                               valueName: "file"))
    var html: String?

    func validate() throws {
        guard MaskingRules.address(of: url) != nil else {
            throw ValidationError("'\(url)' is not an absolute page URL (https://shop.example/path)")
        }
    }

    func run() throws {
        let rules: MaskingRules
        do {
            rules = try MaskingRules(json: try readFile(file, what: "rules file"))
        } catch let error as MaskingRulesError {
            throw CtlError("\(file) does not load: \(error) (run `cobrowse-ctl rules check \(file)` for every problem)")
        }
        let elements = try html.map { HTMLOutline.elements(of: String(decoding: try readFile($0, what: "HTML file"), as: UTF8.self)) }
        let page = rules.page(for: url)
        let sets = rules.ruleSets(for: url)
        print("page \(url)")
        print(sets.isEmpty ? "rule sets: none apply (the built-ins only)"
            : "rule sets: " + sets.map { "rules[\($0.index)] (site \($0.set.site ?? "*"), urls \(($0.set.urls ?? ["*"]).joined(separator: " ")))" }
                .joined(separator: ", "))
        print("mode: \(page.mode.rawValue)\(page.maskPage ? ", whole page masked (maskPage)" : "")")
        print("detectors: \(page.detectors.isEmpty ? "none" : page.detectors.joined(separator: ", "))")
        let compiled = CompiledPageRules(page)
        for (field, selectors) in [("mask", page.mask), ("maskImages", page.maskImages), ("block", page.block),
                                   ("noAgent", page.noAgent), ("unmask", page.mode == .private ? page.unmask : [])] {
            var listed: Set<String> = []
            for selector in selectors where listed.insert(selector).inserted {
                let from = sets.filter { field == "mask" ? $0.set.mask?.contains(selector) == true
                    : field == "maskImages" ? $0.set.maskImages?.contains(selector) == true
                    : field == "block" ? $0.set.block?.contains(selector) == true
                    : field == "noAgent" ? $0.set.noAgent?.contains(selector) == true : $0.set.unmask?.contains(selector) == true }
                    .map { "rules[\($0.index)]" }.joined(separator: ", ")
                var line = "\(field) \(selector)  (\(from))"
                if let elements, let matcher = try? CSSSelector(selector) {
                    let matched = elements.filter { matcher.matches($0) }
                    line += matched.isEmpty ? "  -> matches nothing in the HTML"
                        : "  -> \(matched.count): " + matched.prefix(8).map(\.label).joined(separator: ", ") + (matched.count > 8 ? ", …" : "")
                }
                print(line)
            }
        }
        guard let elements else { return }
        // What the built-ins and the classification as a whole make of the page.
        let always = elements.filter { BuiltInRules.isAlwaysMasked($0) }
        if !always.isEmpty { print("always masked (built-in): " + always.prefix(8).map(\.label).joined(separator: ", ")) }
        let secretNamed = elements.filter { BuiltInRules.isSecretNamed($0) }
        if !secretNamed.isEmpty { print("value masked (secret-named): " + secretNamed.prefix(8).map(\.label).joined(separator: ", ")) }
        let noAgent = elements.filter { compiled.classify($0).noAgent }
        print("no agent action: \(noAgent.count) element\(noAgent.count == 1 ? "" : "s")"
            + (noAgent.isEmpty ? "" : " (" + noAgent.prefix(8).map(\.label).joined(separator: ", ") + (noAgent.count > 8 ? ", …" : "") + ")"))
    }
}
