#!/usr/bin/env python3
"""Checks that every public Swift declaration carries a DocC comment.

Usage: python3 Tests/docs/check_docc.py DIR_OR_FILE...

For each `.swift` file under the given paths, lists the public API (declarations marked
`public` or `open`, members of `public extension`s and public protocols, cases of public
enums) and reports, one line each:
  - a declaration without a `///` comment directly above it (attribute lines such as
    `@discardableResult` may sit between);
  - a function, initializer or subscript with parameters whose comment does not name each
    of them under `- Parameters:` or `- Parameter name:`, or names one it does not have;
  - a throwing one whose comment has no `- Throws:`.
Exits 1 when anything is reported, 0 otherwise.

The Swift is read line by line with a scope stack, not compiled: enough for this
codebase's style (one declaration starts a line), and it never builds anything.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ACCESS_WORDS = {"public", "open", "package", "internal", "fileprivate", "private"}
# Words that may precede the declaration keyword besides access levels.
MODIFIER_WORDS = {
    "static", "class", "final", "override", "required", "convenience", "mutating",
    "nonmutating", "nonisolated", "lazy", "weak", "unowned", "dynamic", "indirect",
    "optional", "consuming", "borrowing", "distributed", "isolated", "async",
}
TYPE_KEYWORDS = {"struct", "class", "enum", "protocol", "actor"}
MEMBER_KEYWORDS = {"func", "init", "subscript", "var", "let", "typealias", "associatedtype", "case", "macro"}
CALLABLE_KEYWORDS = {"func", "init", "subscript"}


@dataclass
class Scope:
    """One `{ … }` block: a type or extension body (declarations live there) or code."""

    declares: bool  # declarations may appear directly inside (type, extension, file)
    kind: str = ""  # struct, enum, protocol, extension, … ("" for code)
    is_public: bool = False  # the type itself is public API (its enum cases are too)
    members_default_public: bool = False  # members without an access word are public


@dataclass
class Declaration:
    """A public declaration found in the source, with the comment above it."""

    path: Path
    line: int  # 1-based
    keyword: str
    name: str
    doc: list[str] = field(default_factory=list)  # comment text, `///` stripped
    signature: str = ""  # the header up to its body, for callables


def strip_code(lines: list[str]) -> list[str]:
    """Blanks comments and string contents so braces and keywords are only real code."""
    out = []
    in_block = 0  # nesting depth of /* */ (Swift nests them)
    in_multiline_string = False
    for line in lines:
        result = []
        i = 0
        in_string = False
        while i < len(line):
            two, three = line[i:i + 2], line[i:i + 3]
            if in_block:
                if two == "/*":
                    in_block += 1
                    i += 2
                elif two == "*/":
                    in_block -= 1
                    i += 2
                else:
                    i += 1
                continue
            if in_multiline_string:
                if three == '"""':
                    in_multiline_string = False
                    result.append('"""')
                    i += 3
                else:
                    i += 2 if line[i] == "\\" else 1
                continue
            if in_string:
                if line[i] == "\\":
                    i += 2
                elif line[i] == '"':
                    in_string = False
                    result.append('"')
                    i += 1
                else:
                    i += 1
                continue
            if two == "//":
                break
            if two == "/*":
                in_block = 1
                i += 2
            elif three == '"""':
                in_multiline_string = True
                result.append('"""')
                i += 3
            elif line[i] == '"':
                in_string = True
                result.append('"')
                i += 1
            else:
                result.append(line[i])
                i += 1
        out.append("".join(result))
    return out


def split_words(text: str) -> list[str]:
    """The leading words of a declaration line: `private(set)` stays one word."""
    return re.findall(r"@\w+(?:\([^)]*\))?|\w+\(set\)|\w+|\S", text)


def parse_header(code: str) -> tuple[list[str], str, str] | None:
    """Splits `@attr public static func name…` into (modifiers, keyword, name), or None."""
    words = split_words(code.strip())
    modifiers = []
    i = 0
    while i < len(words):
        word = words[i]
        base = word.split("(")[0]
        if word.startswith("@"):
            i += 1
            continue
        # `class` is a modifier only when another declaration keyword follows it.
        if base == "class":
            if i + 1 < len(words) and words[i + 1] in MEMBER_KEYWORDS | MODIFIER_WORDS:
                modifiers.append(base)
                i += 1
                continue
            break
        if base in ACCESS_WORDS or base in MODIFIER_WORDS:
            modifiers.append(word)
            i += 1
            continue
        break
    if i >= len(words):
        return None
    keyword = words[i]
    if keyword not in TYPE_KEYWORDS | MEMBER_KEYWORDS | {"extension"}:
        return None
    name = ""
    rest = code.strip().split(keyword, 1)[1] if keyword in code else ""
    if keyword == "init":
        name = "init"
    elif keyword == "subscript":
        name = "subscript"
    else:
        match = re.match(r"\s*([A-Za-z_][\w.]*|[^\s(<]+)", rest)
        name = match.group(1) if match else ""
    return modifiers, keyword, name


def access_of(modifiers: list[str]) -> str:
    """The declared access level (`private(set)` does not count), or "" when none."""
    for word in modifiers:
        if word in ACCESS_WORDS:
            return word
    return ""


def doc_above(raw: list[str], index: int) -> list[str]:
    """The `///` lines directly above line `index`, skipping attribute-only lines between."""
    j = index - 1
    while j >= 0 and raw[j].strip().startswith("@"):
        j -= 1
    doc = []
    while j >= 0 and raw[j].strip().startswith("///"):
        doc.append(raw[j].strip()[3:])
        j -= 1
    return list(reversed(doc))


def signature_from(code: list[str], index: int) -> str:
    """The declaration's header from line `index` up to its body, or to its end without one."""
    text = ""
    depth = 0
    seen_paren = False
    for line in code[index:index + 40]:
        for ch in line:
            if ch == "(":
                depth += 1
                seen_paren = True
            elif ch == ")":
                depth -= 1
            elif ch == "{" and depth == 0:
                return text
            text += ch
        text += " "
        if seen_paren and depth == 0 and not re.search(r"(->|throws|,|:|where|&)\s*$", text.strip()):
            break  # the parameter list is closed: what follows is the body or another declaration
    return text


def parameter_list(signature: str, keyword: str) -> str | None:
    """The text between the parameter list's parentheses, or None when there is none."""
    start = signature.find(keyword) + len(keyword)
    i = start
    angle = 0
    # Skip the name and generic parameters up to the list's `(`.
    while i < len(signature):
        ch = signature[i]
        if ch == "<":
            angle += 1
        elif ch == ">":
            angle -= 1
        elif ch == "(" and angle <= 0:
            break
        i += 1
    if i >= len(signature):
        return None
    depth = 0
    for j in range(i, len(signature)):
        if signature[j] == "(":
            depth += 1
        elif signature[j] == ")":
            depth -= 1
            if depth == 0:
                return signature[i + 1:j]
    return None


def parameter_names(params: str) -> list[tuple[str, str]]:
    """(label, local name) of each parameter in a parameter list's text."""
    parts, depth, current = [], 0, ""
    i = 0
    while i < len(params):
        ch = params[i]
        if params[i:i + 2] == "->":
            current += "->"
            i += 2
            continue
        if ch in "([<":
            depth += 1
        elif ch in ")]>":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    if current.strip():
        parts.append(current)
    names = []
    for part in parts:
        head = part.split(":", 1)[0].split()
        head = [w for w in head if not w.startswith("@")]
        if not head:
            continue
        label, local = head[0], head[-1]
        names.append((label, local))
    return names


def documented_parameters(doc: list[str]) -> list[str]:
    """Names given under `- Parameters:` (as `- name:`) or as `- Parameter name:`."""
    names = []
    list_indent = None
    for line in doc:
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        single = re.match(r"-\s+Parameter\s+(\w+)\s*:", text)
        if single:
            names.append(single.group(1))
            list_indent = None
            continue
        if re.match(r"-\s+Parameters\s*:", text):
            list_indent = indent
            continue
        if list_indent is not None and text.startswith("-"):
            if indent > list_indent:
                item = re.match(r"-\s+(\w+)\s*:", text)
                if item:
                    names.append(item.group(1))
            else:
                list_indent = None
    return names


def public_declarations(path: Path) -> list[Declaration]:
    """Every declaration in `path` that is part of its module's public API."""
    raw = path.read_text(encoding="utf-8").splitlines()
    code = strip_code(raw)
    stack = [Scope(declares=True, kind="file")]
    pending: Scope | None = None  # the scope the next `{` opens, set by a declaration header
    found = []
    for index, line in enumerate(code):
        scope = stack[-1]
        stripped = line.strip()
        if scope.declares and stripped and not stripped.startswith("#"):
            header = parse_header(stripped)
            if header:
                modifiers, keyword, name = header
                access = access_of(modifiers)
                if keyword == "case":
                    is_public = scope.kind == "enum" and scope.is_public  # a switch's cases are in code scopes
                elif keyword == "extension":
                    is_public = False  # an extension is not a symbol; its members are
                elif scope.kind == "protocol":
                    is_public = scope.is_public
                else:
                    is_public = access in ("public", "open") or (access == "" and scope.members_default_public)
                if is_public:
                    found.append(Declaration(path, index + 1, keyword, name, doc_above(raw, index),
                                             signature_from(code, index) if keyword in CALLABLE_KEYWORDS else ""))
                if keyword in TYPE_KEYWORDS:
                    pending = Scope(declares=True, kind=keyword, is_public=is_public,
                                    members_default_public=keyword == "protocol" and is_public)
                elif keyword == "extension":
                    pending = Scope(declares=True, kind="extension",
                                    members_default_public=access == "public")
                else:
                    pending = Scope(declares=False)
        for ch in line:
            if ch == "{":
                if pending is not None and stack[-1].declares:
                    stack.append(pending)
                    pending = None
                else:
                    stack.append(Scope(declares=False))
            elif ch == "}":
                if len(stack) > 1:
                    stack.pop()
    return found


def problems(declaration: Declaration) -> list[str]:
    """What the declaration's comment lacks, as short phrases (empty when it is complete)."""
    if not any(line.strip() for line in declaration.doc):
        return ["no /// comment"]
    if declaration.keyword not in CALLABLE_KEYWORDS:
        return []
    issues = []
    params = parameter_list(declaration.signature, declaration.keyword)
    names = parameter_names(params) if params else []
    documented = documented_parameters(declaration.doc)
    for label, local in names:
        if local not in documented and label not in documented:
            issues.append(f"parameter `{local}` not documented")
    known = {n for pair in names for n in pair}
    for name in documented:
        if name not in known:
            issues.append(f"documents `{name}`, which is not a parameter")
    after = declaration.signature[declaration.signature.find(params) + len(params):] if params else declaration.signature
    if re.search(r"\bthrows\b", after) and not any(re.match(r"\s*-\s+Throws\s*:", line) for line in declaration.doc):
        issues.append("throws, but no `- Throws:`")
    return issues


def swift_files(paths: list[str]) -> list[Path]:
    """The `.swift` files at or under each path, sorted."""
    files = []
    for given in paths:
        path = Path(given)
        files.extend(sorted(path.rglob("*.swift")) if path.is_dir() else [path])
    return files


def main(argv: list[str]) -> int:
    """Prints each undocumented declaration; returns the exit status."""
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    total, failing = 0, 0
    for path in swift_files(argv):
        for declaration in public_declarations(path):
            total += 1
            issues = problems(declaration)
            if issues:
                failing += 1
                print(f"{declaration.path}:{declaration.line}: {declaration.keyword} "
                      f"{declaration.name}: {'; '.join(issues)}")
    print(f"{total} public declarations, {failing} with incomplete documentation")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
