"""Real browser: JupyterLab started by the README's `make lab`, driven in headless Chromium.

Live: opens lesson 0 and lesson 7 (quick mode) in JupyterLab, runs all cells, and checks what a
student sees: no error output; in lesson 7 the activation explorer (anywidget) renders, and
moving the channel slider and changing the layer each change the drawn feature map.
Static, with no kernel and no server: the course site's lesson 7 page (tools/site.py) and an
exported explorer (explorers.export_explorer), opened from disk; moving layer, image and channel
draws exactly the precomputed frame / the feature map Python computes, and no request leaves
the local files. Screenshots go to test-artifacts/browser/. Needs Debian's `chromium` (`.ci/run` installs it; Playwright comes from
the test extra and uses that binary, since browser downloads are impossible here).
Set COURSEKIT_REQUIRE_BROWSER=1 (CI does) to fail instead of skipping when Chromium is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "coursekit-browser-test"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
        "--disable-dev-shm-usage"]

if CHROMIUM is None:
    reason = "Debian's chromium is not installed (sudo apt-get install chromium)"
    if os.environ.get("COURSEKIT_REQUIRE_BROWSER"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` on a copy of the lessons (autosave must never write outputs into the repo)."""
    home = tmp_path_factory.mktemp("lab")
    originals = {path: path.read_bytes() for path in (REPO / "notebooks").glob("*.ipynb")}
    shutil.copytree(REPO / "notebooks", home / "notebooks",
                    ignore=shutil.ignore_patterns("*.keras", "logs", ".ipynb_checkpoints"))
    settings = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = _free_port()
    env = {**os.environ, "COURSEKIT_QUICK": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"), "IPYTHONDIR": str(home / "ipython"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={TOKEN}"
    log = open(home / "lab.log", "wb")
    server = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}",
                               f"NOTEBOOK_DIR={home / 'notebooks'}"], cwd=REPO,
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((home / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield base
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    log.close()
    changed = [p.name for p, data in originals.items() if p.read_bytes() != data]
    assert changed == [], f"the browser session changed lessons in the repository: {changed}"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium")), executable_path=CHROMIUM, headless=True,
            args=ARGS, viewport={"width": 1400, "height": 1000})
        yield context
        context.close()


def _open_and_run_all(context, base: str, name: str, timeout_s: float):
    """Open a notebook, wait for its kernel, run all cells, wait until every cell has run."""
    page = context.new_page()
    # A workspace of its own (reset), so JupyterLab does not restore the previous lesson's tab
    # beside this one; selectors below only look at the visible notebook panel.
    workspace = Path(name).stem.replace("_", "-")
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=90_000)
    # The toolbar indicator says idle before the kernel connects; the status bar text does not.
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.click()
    for _attempt in range(3):
        page.click(".lm-MenuBar-item:has-text('Run')")
        page.click(".lm-Menu-item:has-text('Run All Cells')")
        try:
            page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt:has-text('[*]'), "
                                   ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt:has-text('[1]')", timeout=20_000)
            break
        except sync_api.TimeoutError:
            continue
    # Run All is done when no prompt shows [*] (running or queued) or [ ] (not run yet).
    # Collapsed solution cells show an empty prompt, so they are not counted.
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
                .map(p => p.textContent.trim());
            return prompts.some(t => /\\[\\d+\\]/.test(t))
                && prompts.every(t => !t.includes('[*]') && !t.includes('[ ]'));
        }""", timeout=timeout_s * 1000, polling=1000)
    return page


def _error_outputs(page) -> list[str]:
    texts = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [t for t in texts.all_inner_texts() if "Traceback" in t or "Error" in t.split("\n")[0]]


def _wait_for_new_image(page, container, before: str) -> None:
    """Wait until the first image in ``container``'s output differs from ``before``.

    A redraw replaces the <img> element (clear_output), so query it afresh each time.
    """
    page.wait_for_function(
        "([root, b]) => { const img = root.querySelector('.widget-output img');"
        " return img !== null && img.src !== b; }",
        arg=[container.element_handle(), before], timeout=30_000)


def test_lesson_0_runs_without_errors_and_its_slider_redraws(lab, browser):
    page = _open_and_run_all(browser, lab, "00_start_here.ipynb", timeout_s=300)
    assert _error_outputs(page) == []
    slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="Brightness")).first
    slider.scroll_into_view_if_needed()
    box = slider.locator("xpath=..")
    image = box.locator(".widget-output img").first
    image.wait_for(state="visible", timeout=60_000)
    before = image.get_attribute("src")
    page.screenshot(path=str(ARTIFACTS / "lesson0_before.png"))
    slider.locator(".noUi-handle").focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    _wait_for_new_image(page, box, before)
    page.screenshot(path=str(ARTIFACTS / "lesson0_after.png"))
    page.close()


LESSON_7 = REPO / "notebooks" / "07_seeing_what_cnns_learn.ipynb"


def _drawn(explorer) -> dict:
    """The state an explorer last drew (explorer.js writes it on its root after each drawing)."""
    return json.loads(explorer.get_attribute("data-drawn") or "{}")


def _wait_drawn(page, explorer, **state) -> None:
    """Wait until the explorer has drawn ``state`` (layer, channel, image...)."""
    page.wait_for_function(
        "([root, want]) => { const s = JSON.parse(root.dataset.drawn || '{}');"
        " return Object.entries(want).every(([k, v]) => s[k] === v); }",
        arg=[explorer.element_handle(), state], timeout=60_000)


def _canvas(explorer, selector: str = "canvas.ck-map"):
    """The pixels a canvas shows (height, width, RGB), read back from the page."""
    import numpy as np

    width, height, data = explorer.locator(selector).evaluate(
        "c => [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]")
    return np.asarray(data, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]


def _set(explorer, label: str, value: int) -> None:
    """Set the range control labelled ``label`` as dragging it would (input and change events)."""
    explorer.locator("label", has_text=label).locator("input[type=range]").fill(str(value))


@pytest.mark.skipif(not LESSON_7.exists(), reason="lesson 7 is not written yet")
def test_lesson_7_activation_explorer_follows_channel_and_layer(lab, browser):
    """Live: the anywidget front end in JupyterLab, Python computing a frame per layer."""
    page = _open_and_run_all(browser, lab, LESSON_7.name, timeout_s=600)
    assert _error_outputs(page) == []
    explorer = page.locator(".coursekit-activation-explorer").first
    explorer.scroll_into_view_if_needed()
    page.wait_for_function("root => root.dataset.drawn", arg=explorer.element_handle(), timeout=60_000)
    explorer.screenshot(path=str(ARTIFACTS / "lesson7_1_initial.png"))
    first, start = _canvas(explorer), _drawn(explorer)
    _set(explorer, "Channel", start["channel"] + 3)
    _wait_drawn(page, explorer, channel=start["channel"] + 3)
    explorer.screenshot(path=str(ARTIFACTS / "lesson7_2_channel_moved.png"))
    second = _canvas(explorer)
    assert (second != first).any()
    select = explorer.locator("label", has_text="Layer").locator("select")
    values = select.locator("option").evaluate_all("options => options.map(o => o.value)")
    target = next(value for value in values if value != start["layer"])
    select.select_option(value=target)  # live: Python computes this layer's frame
    _wait_drawn(page, explorer, layer=target)
    explorer.screenshot(path=str(ARTIFACTS / "lesson7_3_layer_changed.png"))
    third = _canvas(explorer)
    assert third.shape != second.shape or (third != second).any()
    page.screenshot(path=str(ARTIFACTS / "lesson7_page.png"), full_page=False)
    page.close()


# ---------------------------------------------------------------- static pages, no kernel

def _frames_on(page, index: int) -> dict:
    """The precomputed frames of the index-th static explorer on a site page, as embedded."""
    text = page.locator(".coursekit-static-explorer + script[type='application/json']").nth(index).text_content()
    return json.loads(text)["frames"]


def _tile(frame: dict, channel: int):
    import base64
    import io

    import numpy as np
    from PIL import Image

    sprite = np.asarray(Image.open(io.BytesIO(base64.b64decode(frame["sprite"].split(",", 1)[1]))))
    top, left = channel // frame["columns"] * frame["height"], channel % frame["columns"] * frame["width"]
    return sprite[top:top + frame["height"], left:left + frame["width"]]


def _viridis(index):
    import matplotlib

    return matplotlib.colormaps["viridis"](index.astype(int), bytes=True)[..., :3]


def _no_outside_requests(context, pages: list[str]) -> list[str]:
    """Open ``pages``; return every request that left the local files (none may)."""
    outside = []
    page = context.new_page()
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(("file://", "data:", "blob:")) else None)
    for url in pages:
        page.goto(url)
        page.wait_for_load_state("load")
    page.close()
    return outside


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The course site with lesson 7 in quick mode (tools/site.py --quick 07), or the one
    COURSEKIT_SITE_DIR names (CI builds it once with `make site`)."""
    if os.environ.get("COURSEKIT_SITE_DIR"):
        return Path(os.environ["COURSEKIT_SITE_DIR"])
    out = tmp_path_factory.mktemp("site") / "html"
    subprocess.run([sys.executable, str(REPO / "tools" / "site.py"), "--quick", "07", "--out", str(out)],
                   check=True, cwd=REPO)
    return out


def test_static_site_explorer_shows_the_precomputed_frame(site, browser):
    """No kernel, no server: the lesson-7 page from disk; layer and channel moves draw exactly
    the precomputed maps (colour index -> viridis), every request stays on disk."""
    import numpy as np

    url = (site / "lessons" / f"{LESSON_7.stem}.html").as_uri()
    assert _no_outside_requests(browser, [(site / "index.html").as_uri(), url]) == []
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    explorer = page.locator(".coursekit-activation-explorer").first
    explorer.scroll_into_view_if_needed()
    page.wait_for_function("root => root.dataset.drawn", arg=explorer.element_handle(), timeout=30_000)
    frames = _frames_on(page, 0)
    start = _drawn(explorer)
    select = explorer.locator("label", has_text="Layer").locator("select")
    layers = select.locator("option").evaluate_all("options => options.map(o => o.value)")
    for layer, channel in ((layers[-1], 2), (layers[1], 3)):
        select.select_option(value=layer)
        _set(explorer, "Channel", channel)
        _wait_drawn(page, explorer, layer=layer, channel=channel)
        frame = frames[f"{start['image']}|{layer}"]
        np.testing.assert_array_equal(_canvas(explorer), _viridis(_tile(frame, channel)))
    explorer.screenshot(path=str(ARTIFACTS / "site_lesson7_explorer.png"))
    assert errors == []
    page.close()


@pytest.fixture(scope="module")
def exported(quick_root, tmp_path_factory):
    """The course CNN (lesson 4's recipe, quick size) exported over 8 real validation photos."""
    import numpy as np

    from coursekit import config, explorers, recipes

    keras = config.import_keras()
    keras.utils.set_random_seed(0)
    model = recipes.SCRATCH_CNN.build(quick=True)
    size = model.input_shape[1:3]
    paths = sorted((quick_root / "validation" / "cats").iterdir())[:4] + \
        sorted((quick_root / "validation" / "dogs").iterdir())[:4]
    photos = np.stack([keras.utils.img_to_array(keras.utils.load_img(path, target_size=size)) for path in paths])
    index = explorers.export_explorer(model, photos, tmp_path_factory.mktemp("export") / "my_cnn",
                                      class_names=["cats", "dogs"], titles=[path.name for path in paths])
    return model, photos, index


def test_exported_explorer_opens_from_disk_and_draws_the_activations(exported, browser):
    """The exported folder from file://: the picture for a layer, channel and image is the
    feature map Python computes for them; Grad-CAM's overlay follows its layer control."""
    import numpy as np

    from coursekit import activations, gradcam, pictures

    model, photos, index = exported
    assert _no_outside_requests(browser, [index.as_uri()]) == []
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(index.as_uri())
    explorer = page.locator(".coursekit-activation-explorer")
    page.wait_for_function("root => root.dataset.drawn", arg=explorer.element_handle(), timeout=30_000)
    select = explorer.locator("label", has_text="Layer").locator("select")
    layers = select.locator("option").evaluate_all("options => options.map(o => o.value)")
    for layer, channel, image in ((layers[2], 5, 3), (layers[-1], 1, 6)):
        select.select_option(value=layer)
        _set(explorer, "Image", image)
        _set(explorer, "Channel", channel)
        _wait_drawn(page, explorer, layer=layer, channel=channel, image=image)
        plane = activations.feature_maps(model, photos[image], [layer])[layer][:, :, channel]
        expected = matplotlib_colours(plane)
        np.testing.assert_array_equal(_canvas(explorer), expected)
    explorer.screenshot(path=str(ARTIFACTS / "export_activation.png"))
    cam = page.locator(".coursekit-gradcam-explorer")
    cam.locator("label", has_text="Layer").locator("select").select_option(index=0)
    first_layer = cam.locator("label", has_text="Layer").locator("select").input_value()
    _wait_drawn(page, cam, layer=first_layer)
    state = _drawn(cam)
    chosen = gradcam.predicted_class(model, photos[state["image"]])
    heat = gradcam.heatmap(model, photos[state["image"]], first_layer, chosen)
    expected = np.round(pictures.overlay(photos[state["image"]], heat, state["blend"]) * 255)
    difference = np.abs(_canvas(cam).astype(float) - expected)
    assert difference.mean() < 3 and np.percentile(difference, 99) < 40  # bilinear in JS vs Pillow
    cam.screenshot(path=str(ARTIFACTS / "export_gradcam.png"))
    assert errors == []
    page.close()


def matplotlib_colours(plane):
    """What ``imshow(plane, cmap="viridis")`` colours each value."""
    import matplotlib
    from matplotlib.colors import Normalize

    return matplotlib.colormaps["viridis"](Normalize()(plane), bytes=True)[..., :3]
