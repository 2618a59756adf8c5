"""The course website's tooling (tools/site.py): landing page, staged lessons, the offline guard.
The built site itself is opened in Chromium by tests/test_browser.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat

from tests.conftest import REPO
from tools import site


def test_landing_page_maps_every_lesson_and_every_record():
    lessons = site.lessons([])
    assert [path.name[:2] for path in lessons] == [f"{k:02d}" for k in range(8)]
    page = site.landing_page([(path, f"title {path.stem}", "quick mode") for path in lessons])
    for path in lessons:
        colab, student, student_colab = site._links(path)
        assert f"(lessons/{path.stem}.ipynb)" in page and f"title {path.stem}" in page
        assert colab.endswith(f"/notebooks/{path.name}") and colab.startswith("https://colab.research.google.com/github/")
        assert student in page and student_colab in page and student.endswith(f"/students/{path.name}")
        assert (REPO / "students" / path.name).is_file()
    for record in sorted((REPO / "results").glob("*.json")):
        seconds = json.loads(record.read_text())["seconds"]
        assert f"| `{record.name}` |" in page and f"{seconds / 60:.1f} min" in page
    assert "lessons/07_seeing_what_cnns_learn" in page.split("{toctree}")[1]


def test_staged_lesson_has_no_widget_state_a_local_badge_and_todays_front_end(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    notebook.cells = [
        nbformat.v4.new_markdown_cell(f"# Lesson 9: a title\n\n[![Open In Colab]({site.COLAB_BADGE})](x)"),
        nbformat.v4.new_code_cell("view", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": '<script type="module">import { mount } from '
                                  '"data:text/javascript;base64,T0xE";</script>', "text/plain": "x"})])]
    executed = tmp_path / "executed.ipynb"
    nbformat.write(notebook, executed)
    title = site.stage_notebook(executed, tmp_path / "lessons" / "09_x.ipynb")
    staged = nbformat.read(tmp_path / "lessons" / "09_x.ipynb", as_version=4)
    assert title == "Lesson 9: a title" and "widgets" not in staged.metadata
    assert "../_static/colab-badge.svg" in staged.cells[0].source and site.COLAB_BADGE not in staged.cells[0].source
    code = base64.b64encode(site.FRONT_END.read_bytes()).decode("ascii")
    assert f"base64,{code}" in staged.cells[1].outputs[0].data["text/html"]
    assert (REPO / "website" / "_static" / "colab-badge.svg").is_file()


def test_offline_guard_finds_scripts_styles_and_modules_from_the_internet(tmp_path):
    (tmp_path / "ok.html").write_text('<script src="_static/a.js"></script><link href="_static/b.css">'
                                      '<a href="https://colab.research.google.com">Colab</a>')
    assert site.remote_assets(tmp_path) == []
    (tmp_path / "cdn.html").write_text(
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
        '<link rel="stylesheet" href="//fonts.example/x.css">'
        '<script type="module">import x from "https://esm.sh/anywidget";</script>')
    assert len(site.remote_assets(tmp_path)) == 3


def test_the_built_site_has_every_lesson_and_loads_nothing_from_the_internet():
    """CI builds the whole site once in quick mode (.ci/run: `make site`, then COURSEKIT_SITE_DIR);
    every lesson has its page, lesson 7's page carries its explorers' frames, and no page loads a
    script, style sheet or module from the internet."""
    import os

    from tests.conftest import skip_or_fail

    if not os.environ.get("COURSEKIT_SITE_DIR"):
        skip_or_fail("no built site: set COURSEKIT_SITE_DIR to a `make site` output (CI does)")
    built = Path(os.environ["COURSEKIT_SITE_DIR"])
    pages = {page.stem for page in (built / "lessons").glob("*.html")}
    assert pages == {path.stem for path in site.lessons([])}, "one page per lesson"
    assert (built / "index.html").is_file() and site.remote_assets(built) == []
    assert "data:text/javascript;base64," in (built / "lessons" / "07_seeing_what_cnns_learn.html").read_text()
    lesson_3 = (built / "lessons" / "03_images_and_convolutions.html").read_text()
    assert "_static/mathjax/MathJax.js" in lesson_3 and '"processClass": "tex2jax_process|mathjax_process|math' \
        in lesson_3, "MathJax 2 from the site itself, told to typeset MyST's math spans"
    assert "<p><!-- lesson-time -->" not in lesson_3 and "<strong>Time:</strong>" in lesson_3, "the time block renders"
