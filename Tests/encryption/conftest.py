"""The encryption proofs (issue 17; docs/operations.md "Encryption"): one recorded co-browse
session on `deploy/local/run TLS=1`, and the same without TLS as the control, each run once for
all the tests that read it. Run by deploy/local/test's `encryption` stage (after the debug build);
on its own, as root (tshark captures on lo), with the debug build current:
    /usr/bin/python3 -m pytest Tests/encryption -q -p no:cacheprovider -s"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

from session import record_session  # noqa: E402


@pytest.fixture(scope="session")
def tls_session():
    """The session on TLS=1, recorded; the stack has stopped when the tests get it."""
    return record_session(tls=True)


@pytest.fixture(scope="session")
def plain_session():
    """The control: the same session on TLS=0, recorded."""
    return record_session(tls=False)
