"""Real browser: JupyterLab started by the README's `make lab`, driven in headless Chromium.

Opens lesson 0 and lesson 6 (quick mode), runs all cells, and checks what a student sees:
no error output; in lesson 6 the activation explorer renders, and moving the channel slider
and changing the layer each change the drawn feature map. Screenshots go to
test-artifacts/browser/. Needs Debian's `chromium` (`.ci/run` installs it; Playwright comes from
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


@pytest.mark.skipif(not LESSON_7.exists(), reason="lesson 7 is not written yet")
def test_lesson_6_activation_explorer_follows_channel_and_layer(lab, browser):
    page = _open_and_run_all(browser, lab, LESSON_7.name, timeout_s=600)
    assert _error_outputs(page) == []
    explorer = page.locator(".coursekit-activation-explorer").first
    explorer.scroll_into_view_if_needed()
    image = explorer.locator(".widget-output img").first
    image.wait_for(state="visible", timeout=60_000)
    explorer.screenshot(path=str(ARTIFACTS / "lesson6_1_initial.png"))
    first = image.get_attribute("src")

    channel = explorer.locator(".widget-slider", has=page.locator(".widget-label", has_text="Channel")).first
    channel.locator(".noUi-handle").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    _wait_for_new_image(page, explorer, first)
    explorer.screenshot(path=str(ARTIFACTS / "lesson6_2_channel_moved.png"))
    second = explorer.locator(".widget-output img").first.get_attribute("src")
    assert second != first

    layer = explorer.locator(".widget-dropdown", has=page.locator(".widget-label", has_text="Layer")).first
    select = layer.locator("select")
    options = select.locator("option").all_inner_texts()
    current = select.input_value()
    target = next(i for i, text in enumerate(options) if select.locator("option").nth(i).get_attribute("value") != current)
    select.select_option(index=target)
    _wait_for_new_image(page, explorer, second)
    explorer.screenshot(path=str(ARTIFACTS / "lesson6_3_layer_changed.png"))
    third = explorer.locator(".widget-output img").first.get_attribute("src")
    assert third not in (first, second)
    page.screenshot(path=str(ARTIFACTS / "lesson6_page.png"), full_page=False)
    page.close()
