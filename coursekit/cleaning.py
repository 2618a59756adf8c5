"""Lesson 1's cleaning toolbox in one place: each name comes from the module that defines it.

- ``coursekit.scan``: ``scan`` a folder (the issue codes ``ISSUES``, ``BROKEN``, ``FIXABLE``,
  what the TensorFlow pipeline accepts), ``dhash``, ``true_format``;
- ``coursekit.quarantine``: ``quarantine``, ``undo``, ``repair``;
- ``coursekit.splits``: ``split`` (and what it leaves out: ``excluded``), ``check_leakage``;
- ``coursekit.messy``: ``make_messy_copy`` (the lesson's messy folder).

Example (a plain script needs no ``if __name__ == "__main__":``)::

    from coursekit import cleaning

    report = cleaning.scan("photos")
    print(report.loc[~report.ok, ["path", "note"]])
"""

from coursekit.messy import make_messy_copy
from coursekit.quarantine import DEFAULT_QUARANTINE, quarantine, repair, undo
from coursekit.scan import (BROKEN, FIXABLE, ISSUES, PIPELINE_EXTENSIONS, PIPELINE_FORMATS, dhash,
                            scan, true_format)
from coursekit.splits import check_leakage, excluded, split

__all__ = ["BROKEN", "DEFAULT_QUARANTINE", "FIXABLE", "ISSUES", "PIPELINE_EXTENSIONS",
           "PIPELINE_FORMATS", "check_leakage", "dhash", "excluded", "make_messy_copy", "quarantine",
           "repair", "scan", "split", "true_format", "undo"]
