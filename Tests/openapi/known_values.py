"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS): mixes values that exist on the stack
(session ids, interactions, agents, voice codes a test made) into the generated path and query
parameters, so that fuzzing reaches real sessions and codes, not only the "unknown" answers.

The values come from COBROWSE_OPENAPI_KNOWN, a JSON object: parameter name → list of values.
Hypothesis draws from them like any other strategy, so a run stays reproducible with its seed.
"""

import json
import os

import schemathesis
from hypothesis import strategies as st

KNOWN = json.loads(os.environ.get("COBROWSE_OPENAPI_KNOWN") or "{}")


def mixed(values):
    """A strategy of `values` as generated, or with the known values of some of its keys."""
    if not isinstance(values, dict):
        return st.just(values)
    keys = sorted(key for key in values if KNOWN.get(key))
    if not keys:
        return st.just(values)
    known = st.fixed_dictionaries({key: st.sampled_from(KNOWN[key]) for key in keys})
    return st.one_of(st.just(values), known.map(lambda picked: {**values, **picked}))


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    """Path parameters (`id`, `code`): sometimes those of real sessions and codes."""
    return mixed(path_parameters)


@schemathesis.hook
def flatmap_query(context, query):
    """Query parameters (`interaction`, `agent`): sometimes those of real sessions."""
    return mixed(query)
