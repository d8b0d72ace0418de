"""Unit tests of check_docc.py on small Swift sources: what counts as public, and what a
comment must say. Run: python3 -m pytest Tests/docs -q -p no:cacheprovider"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_docc  # noqa: E402


def report(tmp_path: Path, source: str) -> dict[str, list[str]]:
    """The checker's findings for `source`, by declaration name."""
    path = tmp_path / "Sample.swift"
    path.write_text(source, encoding="utf-8")
    return {d.name: check_docc.problems(d) for d in check_docc.public_declarations(path)}


def test_undocumented_public_declarations_are_reported_and_internal_ones_ignored(tmp_path):
    found = report(tmp_path, """
/// A documented type.
public struct Box {
    public var size: Int
    var hidden: Int
    func helper() {}
    /// Documented.
    public let label: String
}
struct Internal {
    public var notAPI: Int
}
""")
    assert found == {"Box": [], "size": ["no /// comment"], "label": [], "notAPI": ["no /// comment"]}


def test_attributes_may_sit_between_the_comment_and_the_declaration(tmp_path):
    found = report(tmp_path, """
/// Resets.
@discardableResult
@inlinable public func reset() -> Int { 0 }
""")
    assert found == {"reset": []}


def test_each_parameter_must_be_named_and_no_other(tmp_path):
    found = report(tmp_path, """
/// Both named.
/// - Parameters:
///   - first: One.
///   - second: Two.
public func both(_ first: Int, label second: Int) {}
/// One named, one stale.
/// - Parameters:
///   - first: One.
///   - gone: Not a parameter.
public func stale(first: Int, second: (Int, Int) -> Int) {}
/// The single form.
/// - Parameter value: The value.
public init(value: Int) {}
/// No parameters at all.
public func none() {}
""")
    assert found["both"] == []
    assert found["stale"] == ["parameter `second` not documented", "documents `gone`, which is not a parameter"]
    assert found["init"] == []
    assert found["none"] == []


def test_a_throwing_function_needs_throws(tmp_path):
    found = report(tmp_path, """
/// Reads.
/// - Parameter data: The bytes.
public func read(_ data: Data) async throws -> Int { 0 }
/// Reads, typed.
/// - Throws: `Refusal` when refused.
public func get() throws(Refusal) -> Int { 0 }
""")
    assert found == {"read": ["throws, but no `- Throws:`"], "get": []}


def test_cases_of_public_enums_count_but_switch_cases_do_not(tmp_path):
    found = report(tmp_path, """
/// States.
public enum State {
    /// On.
    case on
    case off
    /// The name.
    public var name: String {
        switch self {
        case .on: "on"
        case .off: "off"
        }
    }
}
enum Private {
    case hidden
}
""")
    assert found == {"State": [], "on": [], "off": ["no /// comment"], "name": []}


def test_members_of_public_extensions_and_protocols_are_public(tmp_path):
    found = report(tmp_path, """
/// Codable as text.
public protocol Textual {
    init?(_ text: String)
    /// The form.
    static var form: String { get }
}
public extension Int {
    var doubled: Int { self * 2 }
    private var secret: Int { 0 }
}
extension String {
    var internalOnly: Int { 0 }
}
""")
    assert found == {"Textual": [], "init": ["no /// comment"], "form": [], "doubled": ["no /// comment"]}


def test_braces_in_strings_and_comments_do_not_move_scopes(tmp_path):
    found = report(tmp_path, """
/// Text.
public enum Text {
    /// A brace in a string.
    public static let open = "{"
    // a brace in a comment: {
    /* and { in a block */
    /// Still inside the enum.
    case plain
}
public var outside: Int = 0
""")
    assert found == {"Text": [], "open": [], "plain": [], "outside": ["no /// comment"]}


@pytest.mark.parametrize("documented, status", [(True, 0), (False, 1)])
def test_exit_status_says_whether_anything_lacks(tmp_path, capsys, documented, status):
    source = ("/// Documented.\n" if documented else "") + "public struct Thing {}\n"
    (tmp_path / "Thing.swift").write_text(source, encoding="utf-8")
    assert check_docc.main([str(tmp_path)]) == status
    out = capsys.readouterr().out
    assert ("Thing.swift:" in out) == (not documented)
