"""One benchmark's results in its own section of a Markdown file (docs/benchmarks.md), for the
Python benchmarks (LiveLoad/live_load.py, SDKBurst/sdk_burst.py); the Swift ones use
BenchmarkReport/MarkdownSection.swift, which follows the same convention."""

import os


def write_section(content, path, name):
    """Puts `content` between `<!-- name:start -->` and `<!-- name:end -->` of the Markdown file
    at `path` (appended with the markers when it has none; a new file starts "# Benchmarks"),
    leaving the rest as it is. The file is replaced whole (written beside it, then renamed), so
    an interrupted run never leaves it half written."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        text = "# Benchmarks\n"
    first, last = text.find(start), text.find(end)
    if first >= 0 and last >= first + len(start):
        text = text[:first + len(start)] + f"\n{content}\n" + text[last:]
    else:
        text += f"\n{start}\n{content}\n{end}\n"
    with open(path + ".tmp", "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(path + ".tmp", path)
