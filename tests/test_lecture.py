"""Lecture mode: projector-sized figures (config, tests/test_config.py) and widgets (every View)."""

from __future__ import annotations

import numpy as np

from coursekit import views


def test_views_are_projector_sized_in_lecture_mode(monkeypatch):
    image = np.zeros((8, 8, 3), np.uint8)
    monkeypatch.delenv("COURSEKIT_LECTURE", raising=False)
    normal = views.brightness_demo(image)
    assert "coursekit-lecture" not in normal.widget._dom_classes
    monkeypatch.setenv("COURSEKIT_LECTURE", "1")
    big = views.brightness_demo(image)
    assert "coursekit-lecture" in big.widget._dom_classes
    assert big.controls["brightness"].layout.width == "80%"
    assert "font-size: 20px" in big.widget.children[0].value
    np.testing.assert_array_equal(big.render(1.0), normal.render(1.0))  # same computation


def test_view_display_carries_widget_and_static_fallback():
    view = views.brightness_demo(np.full((8, 8, 3), 100, np.uint8))
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    import base64

    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"
    assert view.render(1.5)[0, 0, 0] == 150
