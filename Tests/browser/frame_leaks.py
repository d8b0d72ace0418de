"""Scanning WebSocket frames for what must never be in them: the one leak scan of the browser
tests (secrets of the masking pages, personal data, typed passwords, blocked content), over the
frames a customer's browser sent or an agent's browser received (`browsers.Frame`)."""

import json
import re
from typing import NamedTuple


class Leak(NamedTuple):
    """A frame that holds something it must not."""

    index: int  # its place in the scanned list
    kind: str  # its type (`t`), "?" when it is not a JSON object
    found: list  # what it holds, in the order asked for (or sorted, for a pattern)
    excerpt: str  # the start of its payload, for the failure message


def leaks_in(frames, secrets):
    """Every frame of `frames` holding one of `secrets`, as a `Leak`. `secrets` is a list of
    strings, or a compiled pattern (what it matches is what was found). A frame is searched as
    sent and with its JSON's escapes undone, so an escaped character hides nothing."""
    found = []
    for index, frame in enumerate(frames):
        payload = frame.payload if isinstance(frame.payload, str) else str(frame.payload)
        decoded = frame.json()
        text = payload if decoded is None else payload + "\n" + json.dumps(decoded, ensure_ascii=False)
        if isinstance(secrets, re.Pattern):
            hits = sorted(set(secrets.findall(text)))
        else:
            hits = [secret for secret in secrets if secret and secret in text]
        if hits:
            kind = decoded.get("t") if isinstance(decoded, dict) else None
            found.append(Leak(index, kind or "?", hits, payload[:300]))
    return found


def describe(leaks, limit=8):
    """One line for a failure message: how many frames, of which types, carry what, and the
    start of the first such frame."""
    if not leaks:
        return "no frame carries any"
    secrets = sorted({secret for leak in leaks for secret in leak.found})
    kinds = sorted({leak.kind for leak in leaks})
    shown = ", ".join(secrets[:limit]) + (f" and {len(secrets) - limit} more" if len(secrets) > limit else "")
    return (f"{len(leaks)} frame(s) ({', '.join(kinds)}) carry {len(secrets)} of them: {shown}; "
            f"e.g. frame {leaks[0].index}: {leaks[0].excerpt!r}")
