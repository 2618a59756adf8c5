"""Maintainer scripts (not part of the coursekit package students install).

``course.py``   lesson headers, slide metadata, student copies (``make students``, ``make slides``).
``record.py``   full-mode runs of the lessons that write ``results/<lesson>.json`` (``make results``).
``figures.py``  the figures the text quotes, checked against the records (``tests/test_results.py``).
"""
