"""The hooks file the schemathesis runs load (SCHEMATHESIS_HOOKS): the webhook's signatures and the
stack's known values, each in its own module (importing them registers their hooks)."""

import known_values  # noqa: F401
import webhook_signing  # noqa: F401
