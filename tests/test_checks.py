"""coursekit.checks: a tick or a specific hint, never a traceback."""

from __future__ import annotations

import pytest

from coursekit import checks


def test_check_answer_right_and_wrong(capsys):
    assert checks.check_answer([148, 148, 32], (148, 148, 32)) is True
    assert "✅" in capsys.readouterr().out
    assert checks.check_answer((150, 150, 32), (148, 148, 32), hint="no padding: lose 2 pixels") is False
    out = capsys.readouterr().out
    assert "❌" in out and "no padding" in out and "(150, 150, 32)" in out


@pytest.mark.parametrize("weird", [..., None, object(), "abc", float("nan"), {1: 2}])
def test_checks_never_raise(weird, capsys):
    assert checks.check_answer(weird, 3) is False
    assert checks.check_close(weird, 0.5) is False
    assert checks.check_choice(weird if weird is not ... else ..., {"a"}) in (False,)
    assert capsys.readouterr().out.count("❌") == 3


def test_placeholder_gets_its_own_message(capsys):
    checks.check_answer(..., 3)
    assert "Replace the ..." in capsys.readouterr().out


def test_check_close_tolerance(capsys):
    assert checks.check_close(0.333, 1 / 3, tolerance=0.01)
    assert not checks.check_close(0.3, 1 / 3, tolerance=0.01)


def test_check_choice_ignores_case_and_order_and_validates_options(capsys):
    assert checks.check_choice({"Flip", "zoom"}, {"zoom", "flip"})
    assert not checks.check_choice({"flip", "warp"}, {"flip"}, options={"flip", "zoom"})
    assert "is not one of the options" in capsys.readouterr().out
