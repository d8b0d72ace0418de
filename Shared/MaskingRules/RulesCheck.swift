import Foundation

/// What `cobrowse-ctl rules check` finds in a rules file, beyond what loading it refuses: every
/// error at once (unknown keys, selectors outside the supported subset with their position, bad
/// sites, modes and detectors), and warnings for rules that do nothing: URL patterns that match
/// none of the sample URLs, and selectors another rule set already covers on every page they
/// apply to.
public struct RulesCheck: Sendable {
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public enum Severity: String, Sendable { case error, warning }
        public let severity: Severity
        /// Where in the file, e.g. `rules[2].mask[0]`.
        public let location: String
        public let message: String
        public var description: String { "\(severity.rawValue): \(location): \(message)" }
    }

    public private(set) var findings: [Finding] = []
    public var errors: [Finding] { findings.filter { $0.severity == .error } }
    public var warnings: [Finding] { findings.filter { $0.severity == .warning } }

    static let fileKeys: Set<String> = ["version", "maskPlaceholders", "customerMark", "rules"]
    static let setKeys: Set<String> = ["site", "urls", "mask", "maskImages", "block", "noAgent", "maskPage", "mode", "unmask",
                                       "detectors"]
    static let selectorFields = ["mask", "maskImages", "block", "noAgent", "unmask"]

    /// Checks `json`; `sampleURLs` (absolute page URLs) make the URL-pattern check possible.
    public init(json: Data, sampleURLs: [String] = []) {
        guard let file = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            report(.error, "(file)", "not a JSON object: a rules file is {\"version\": 1, \"rules\": [...]}")
            return
        }
        for key in file.keys.sorted() where !Self.fileKeys.contains(key) {
            report(.error, key, "unknown key (known: \(Self.fileKeys.sorted().joined(separator: ", ")))")
        }
        if let version = file["version"], (version as? Int) != 1 { report(.error, "version", "must be 1") }
        if let mark = file["customerMark"], !(mark is String) { report(.error, "customerMark", "must be a string of CSS declarations or none") }
        if let mark = file["customerMark"] as? String, mark.contains(where: { "{}<".contains($0) }) {
            report(.error, "customerMark", "CSS declarations only: no braces or '<' (the SDK would use the default mark)")
        }
        guard let sets = file["rules"] as? [Any] else {
            if file["rules"] != nil { report(.error, "rules", "must be a list of rule sets") }
            return
        }
        var parsed: [(index: Int, set: [String: Any])] = []
        for (index, item) in sets.enumerated() {
            guard let set = item as? [String: Any] else {
                report(.error, "rules[\(index)]", "a rule set is a JSON object")
                continue
            }
            checkSet(set, at: index)
            parsed.append((index, set))
        }
        if !sampleURLs.isEmpty { checkPatterns(parsed, against: sampleURLs) }
        checkShadowing(parsed)
        // Whatever this check missed, loading must not refuse the file.
        if errors.isEmpty {
            do {
                _ = try MaskingRules(json: json)
            } catch {
                report(.error, "(file)", error.description)
            }
        }
    }

    private mutating func report(_ severity: Finding.Severity, _ location: String, _ message: String) {
        findings.append(Finding(severity: severity, location: location, message: message))
    }

    private mutating func checkSet(_ set: [String: Any], at index: Int) {
        let here = "rules[\(index)]"
        for key in set.keys.sorted() where !Self.setKeys.contains(key) {
            report(.error, "\(here).\(key)", "unknown key (known: \(Self.setKeys.sorted().joined(separator: ", ")))")
        }
        if let site = set["site"] {
            if let site = site as? String {
                if site != "*", URL(string: site)?.host == nil {
                    report(.error, "\(here).site", "'\(site)' is neither * nor an origin such as https://shop.example")
                }
            } else {
                report(.error, "\(here).site", "must be a string")
            }
        }
        if let urls = set["urls"], !(urls is [String]) { report(.error, "\(here).urls", "must be a list of patterns") }
        for field in Self.selectorFields {
            guard let value = set[field] else { continue }
            guard let selectors = value as? [String] else {
                report(.error, "\(here).\(field)", "must be a list of selectors")
                continue
            }
            for (position, selector) in selectors.enumerated() {
                do {
                    _ = try CSSSelector(selector)
                } catch {
                    report(.error, "\(here).\(field)[\(position)]", "'\(selector)': \(error)")
                }
            }
        }
        if let maskPage = set["maskPage"], !(maskPage is Bool) { report(.error, "\(here).maskPage", "must be true or false") }
        if let mode = set["mode"] {
            if (mode as? String).map({ $0 != "private" && $0 != "public" }) ?? true {
                report(.error, "\(here).mode", "must be \"private\" or \"public\"")
            }
        }
        if set["unmask"] != nil, (set["mode"] as? String) != "private" {
            report(.warning, "\(here).unmask", "only a private page unmasks: this set does not say \"mode\": \"private\" "
                + "(another set for the same pages may)")
        }
        if let detectors = set["detectors"] {
            if let detectors = detectors as? [String: Any] {
                let known = BuiltInTables.detectors.map(\.name)
                for (name, value) in detectors.sorted(by: { $0.key < $1.key }) {
                    if !known.contains(name) {
                        report(.error, "\(here).detectors.\(name)", "unknown detector (known: \(known.joined(separator: ", ")))")
                    }
                    if !(value is Bool) { report(.error, "\(here).detectors.\(name)", "must be true or false") }
                }
            } else {
                report(.error, "\(here).detectors", "must be an object of detector names to true or false")
            }
        }
    }

    /// A set's `urls` patterns that no sample page of its site matches.
    private mutating func checkPatterns(_ sets: [(index: Int, set: [String: Any])], against samples: [String]) {
        for (index, set) in sets {
            guard let patterns = set["urls"] as? [String] else { continue }
            let site = set["site"] as? String ?? "*"
            let pages = samples.compactMap(MaskingRules.address(of:)).filter { site == "*" || $0.origin.lowercased() == site.lowercased() }
            for (position, pattern) in patterns.enumerated() where !pages.contains(where: { MaskingRules.glob(pattern, matches: $0.path) }) {
                report(.warning, "rules[\(index)].urls[\(position)]",
                       "'\(pattern)' matches none of the \(pages.count) sample URLs of site \(site)")
            }
        }
    }

    /// Selectors that another rule set (or an earlier place in the same one) already applies on
    /// every page they apply to: the same selector in the same list, the same selector in
    /// `block` (a blocked element is a placeholder, masked or not), or a whole-page mask.
    private mutating func checkShadowing(_ sets: [(index: Int, set: [String: Any])]) {
        func covers(_ a: [String: Any], _ b: [String: Any]) -> Bool {
            let siteA = a["site"] as? String ?? "*", siteB = b["site"] as? String ?? "*"
            guard siteA == "*" || siteA.lowercased() == siteB.lowercased() else { return false }
            let urlsA = a["urls"] as? [String] ?? ["*"], urlsB = b["urls"] as? [String] ?? ["*"]
            return urlsA.contains("*") || Set(urlsB).isSubset(of: Set(urlsA))
        }
        for (index, set) in sets {
            for field in ["mask", "maskImages", "block", "noAgent"] {
                for (position, selector) in (set[field] as? [String] ?? []).enumerated() {
                    let here = "rules[\(index)].\(field)[\(position)]"
                    if (set[field] as? [String] ?? []).prefix(position).contains(selector) {
                        report(.warning, here, "'\(selector)' is listed twice in this set")
                        continue
                    }
                    for (other, by) in sets where other != index && covers(by, set) {
                        let reason: String? = if (by[field] as? [String] ?? []).contains(selector) {
                            "rules[\(other)].\(field) has it too, on every page this set covers"
                        } else if field != "noAgent", field != "block", (by["block"] as? [String] ?? []).contains(selector) {
                            "rules[\(other)].block blocks it on every page this set covers (block beats mask)"
                        } else if field == "mask" || field == "maskImages", by["maskPage"] as? Bool == true {
                            "rules[\(other)] masks the whole page on every page this set covers"
                        } else {
                            nil
                        }
                        // Of two identical entries, the later one is reported.
                        if let reason, !(other > index && (by[field] as? [String] ?? []).contains(selector)) {
                            report(.warning, here, "'\(selector)' does nothing: \(reason)")
                            break
                        }
                    }
                }
            }
        }
    }
}
