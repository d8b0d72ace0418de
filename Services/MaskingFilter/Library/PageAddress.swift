import MaskingRules

/// A page's address as a session's record keeps it: what identifies the page, never what the
/// customer put in it. The query and fragment go (searches, e-mail addresses, tokens live there);
/// a page the rules mask whole (`maskPage`) or keep private is named by its rule set's URL
/// pattern, not its path (`/account/4711/statement` → `/account/*`).
enum PageAddress {
    static func kept(_ url: String, rules: MaskingRules) -> String {
        guard let (origin, path) = MaskingRules.address(of: url) else { return "(not a web address)" }
        if let masked = rules.ruleSets(for: url).first(where: { $0.set.maskPage == true || $0.set.mode == "private" }) {
            return origin + (masked.set.urls?.first ?? "*")
        }
        return origin + (path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/")
    }
}
