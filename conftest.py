"""Docstring examples (`pytest --doctest-modules coursekit`, part of `make test`) leave no trace,
and get ``keras`` without the module importing TensorFlow for them.

An example may set an environment variable (``config``'s set ``COURSEKIT_QUICK`` and
``COURSEKIT_MIRROR``) or matplotlib settings (``lecture_mode``). Both are restored after each
example, so the tests that run next in the same worker see what ``make test`` set.
An example that uses ``keras`` finds it in its namespace (pytest's ``doctest_namespace``), imported
quietly by ``config.import_keras`` the first time one needs it: a module imports Keras only when
its own code uses it. The shared test fixtures live in ``tests/conftest.py``.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _docstring_examples_leave_no_trace(request, doctest_namespace):
    if type(request.node).__name__ != "DoctestItem":  # pytest keeps the class private
        yield
        return
    import matplotlib

    if "keras" not in doctest_namespace and any(
            "keras" in example.source for example in request.node.dtest.examples):
        from coursekit import config

        doctest_namespace["keras"] = config.import_keras()
    saved = dict(os.environ)
    with matplotlib.rc_context():
        yield
    os.environ.clear()
    os.environ.update(saved)
