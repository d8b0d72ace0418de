"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS): signs every request to the watch's
webhook as a contact center would (docs/interactions.md, "The webhook"), so that generated
events get past the signature check and reach the event parsing and publishing behind it.

The body is serialized here, once, and sent as these exact bytes: the HMAC covers the raw body,
so it must be the very bytes that go on the wire. The secret comes from COBROWSE_WEBHOOK_SECRET.
"""

import hashlib
import hmac
import json
import os
import time

import schemathesis

WEBHOOK_PATH = "/interaction-events"


def signed_headers(body, secret, timestamp=None):
    """The webhook's two headers for `body` (bytes) sent at `timestamp` (Unix seconds, default now)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Cobrowse-Timestamp": str(stamp), "X-Cobrowse-Signature": "sha256=" + mac}


def wire_body(body):
    """The bytes sent for a generated body: bytes as they are, anything else as compact JSON."""
    if isinstance(body, bytes):
        return body
    try:
        return json.dumps(body, ensure_ascii=False).encode()
    except (TypeError, ValueError):  # not JSON at all (NotSet: no body)
        return b""


@schemathesis.hook
def before_call(context, case, kwargs):
    """Replaces the webhook's body with its serialized bytes and adds a valid signature."""
    if case.operation.path != WEBHOOK_PATH:
        return
    raw = wire_body(case.body)
    kwargs["data"] = raw
    headers = dict(case.headers or {})
    headers.update(signed_headers(raw, os.environ["COBROWSE_WEBHOOK_SECRET"]))
    headers.setdefault("Content-Type", "application/json")
    case.headers = headers
