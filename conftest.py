"""Docstring examples (`pytest --doctest-modules coursekit`, part of `make test`) leave no trace.

An example may set an environment variable (``config``'s set ``COURSEKIT_QUICK`` and
``COURSEKIT_MIRROR``) or matplotlib settings (``lecture_mode``). Both are restored after each
example, so the tests that run next in the same worker see what ``make test`` set.
The shared test fixtures live in ``tests/conftest.py``.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _docstring_examples_leave_no_trace(request):
    if type(request.node).__name__ != "DoctestItem":  # pytest keeps the class private
        yield
        return
    import matplotlib

    saved = dict(os.environ)
    with matplotlib.rc_context():
        yield
    os.environ.clear()
    os.environ.update(saved)
