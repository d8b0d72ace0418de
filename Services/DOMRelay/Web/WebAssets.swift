import Foundation

/// The folders of browser code the relay serves: `Public` (`/cobrowse.js`, the sharer SDK, and
/// `/agent/`, the agent console; always served) and `Demo` (`/demo/`, dev mode only).
public enum WebAssets {
    /// The folder holding `Public` and `Demo`: the copy bundled with the relay, or `root` when
    /// given (`WEB_ROOT`, to work on the browser code without rebuilding the relay).
    public static func folders(root: String?) -> (public: String, demo: String) {
        if let root, !root.isEmpty { return ("\(root)/Public", "\(root)/Demo") }
        return (bundled("Public"), bundled("Demo"))
    }

    private static func bundled(_ name: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil) else {
            fatalError("the relay's \(name) folder is missing from its resource bundle")
        }
        return url.path
    }
}
