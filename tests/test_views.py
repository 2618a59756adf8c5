"""coursekit.views: the small views of lessons 0-5 (their computations are tested with eda/cnn)."""

from __future__ import annotations

import numpy as np

from coursekit import cnn, views


def test_brightness_demo_redraws_its_render():
    view = views.brightness_demo(np.full((4, 4, 3), 100, np.uint8))
    view.controls["brightness"].value = 1.5
    assert view.render(1.5)[0, 0, 0] == 150 and view.render(3.0)[0, 0, 0] == 255


def test_augmentation_preview_builds_its_model_once_per_setting(monkeypatch):
    built = []
    original = cnn.augmentation_layers
    monkeypatch.setattr(cnn, "augmentation_layers", lambda **kw: built.append(kw) or original(**kw))
    photo = np.random.default_rng(6).integers(0, 256, (32, 32, 3)).astype("uint8")
    view = views.augmentation_preview(photo, count=4, seed=2)
    first = view.render()
    np.testing.assert_array_equal(first, cnn.augment_grid(
        photo, count=4, seed=2, flip="horizontal", rotation=0.1, zoom=0.2, translation=0.1, contrast=0.0))
    assert len(built) == 2  # the view's model, and augment_grid's just now
    for _ in range(3):
        view.controls["new_draw"].click()  # new transforms from the same model
    assert len(built) == 2 and not np.array_equal(view.render(), first)
    view.controls["rotation"].value = 0.3
    view.controls["rotation"].value = 0.1  # back to a setting seen before: no new model
    assert len(built) == 3
    np.testing.assert_array_equal(photo, np.random.default_rng(6).integers(0, 256, (32, 32, 3)))
