"""Course maintenance: the standard first cells of every lesson, badge lint, student copies.

Students never need this module; maintainers use it through ``python -m coursekit``:

``python -m coursekit sync``      rewrite every lesson's header cells (Colab badge, install
                                  cell, mode switch) from ``config.REPOSITORY``/``REPOSITORY_REF``
                                  and add slide metadata.
``python -m coursekit students``  write student copies (solutions and instructor notes removed).

Cell tags used by the lessons:
``colab-setup``  the install cell (first code cell);  ``mode-switch`` the quick-mode cell;
``solution``     an exercise solution (hidden by default, removed from student copies);
``instructor``   instructor notes (removed from student copies).
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from coursekit import config

HEADER_TAG = "header"
SETUP_TAG = "colab-setup"
MODE_TAG = "mode-switch"
SOLUTION_TAG = "solution"
INSTRUCTOR_TAG = "instructor"

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_url(notebook_path: str) -> str:
    """Return the Colab URL that opens ``notebooks/<file>`` from the course repository."""
    return (f"https://colab.research.google.com/github/{config.REPOSITORY}/blob/"
            f"{config.REPOSITORY_REF}/{notebook_path}")


def install_spec() -> str:
    """Return the pip requirement that installs coursekit from the repository at the pinned ref."""
    return f"coursekit @ git+https://github.com/{config.REPOSITORY}@{config.REPOSITORY_REF}"


def setup_cell_source() -> str:
    """Return the Colab install cell: installs coursekit on Colab, does nothing elsewhere."""
    return (
        "# Setup. On Google Colab this installs coursekit and turns on widget support;\n"
        "# anywhere else (your JupyterLab) it does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "{install_spec()}"\n'
        "    from google.colab import output\n"
        "\n"
        "    output.enable_custom_widget_manager()"
    )


def mode_cell_source() -> str:
    """Return the quick-mode switch cell, identical in every lesson."""
    return (
        "import os\n"
        "\n"
        "# Quick mode runs this lesson on a small subset with few epochs (minutes on a laptop).\n"
        "# Uncomment the next line to switch it on; the tests run every lesson this way.\n"
        '# os.environ["COURSEKIT_QUICK"] = "1"\n'
        "\n"
        "from coursekit import config\n"
        "\n"
        "QUICK = config.quick_mode()\n"
        "config.start_lesson()"
    )


def header_markdown(notebook_path: str, title: str, learn: list[str], minutes: str) -> str:
    """Return the lesson's first markdown cell: title, Colab badge, what you will learn, time."""
    bullets = "\n".join(f"- {item}" for item in learn)
    return (
        f"# {title}\n\n"
        f"[![Open In Colab]({COLAB_BADGE})]({colab_url(notebook_path)})\n\n"
        f"**What you will learn**\n\n{bullets}\n\n"
        f"**Time to run:** {minutes}"
    )


def header_cells(notebook_path: str, title: str, learn: list[str], minutes: str) -> list:
    """Return the standard first three cells of a lesson (header, Colab setup, mode switch).

    Example:
        >>> cells = header_cells("notebooks/03_cnn_from_scratch.ipynb", "Lesson 3: A CNN",
        ...                      ["convolution by hand"], "about 10 min (quick mode: 2 min)")
        >>> [cell.cell_type for cell in cells]
        ['markdown', 'code', 'code']
    """
    header = nbformat.v4.new_markdown_cell(header_markdown(notebook_path, title, learn, minutes))
    header.metadata["tags"] = [HEADER_TAG]
    setup = nbformat.v4.new_code_cell(setup_cell_source())
    setup.metadata["tags"] = [SETUP_TAG]
    mode = nbformat.v4.new_code_cell(mode_cell_source())
    mode.metadata["tags"] = [MODE_TAG]
    return [header, setup, mode]


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def add_slide_metadata(notebook) -> None:
    """Mark cells for ``nbconvert --to slides``: a heading starts a slide, '###' a sub-slide.

    Other cells continue the current slide; solutions are skipped and instructor notes become
    speaker notes (press ``s`` in the deck to see them).
    """
    for cell in notebook.cells:
        source = cell.source.lstrip()
        if SOLUTION_TAG in _tags(cell):
            slide_type = "skip"
        elif INSTRUCTOR_TAG in _tags(cell):
            slide_type = "notes"
        elif cell.cell_type == "markdown" and (source.startswith("# ") or source.startswith("## ")):
            slide_type = "slide"
        elif cell.cell_type == "markdown" and source.startswith("### "):
            slide_type = "subslide"
        else:
            slide_type = "-"
        cell.metadata["slideshow"] = {"slide_type": slide_type}


def clear_outputs(notebook) -> None:
    """Remove outputs and execution counts from every code cell (notebooks are stored clean)."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)


def sync(notebook_path: str | Path) -> bool:
    """Rewrite a lesson's badge URL, setup and mode cells from the one configured place.

    Returns True if the file changed.
    """
    path = Path(notebook_path)
    notebook = nbformat.read(path, as_version=4)
    before = nbformat.writes(notebook)
    relative = f"notebooks/{path.name}"
    for cell in notebook.cells:
        tags = _tags(cell)
        if HEADER_TAG in tags:
            lines = cell.source.splitlines()
            cell.source = "\n".join(
                f"[![Open In Colab]({COLAB_BADGE})]({colab_url(relative)})"
                if line.startswith("[![Open In Colab]") else line for line in lines)
        elif SETUP_TAG in tags:
            cell.source = setup_cell_source()
        elif MODE_TAG in tags:
            cell.source = mode_cell_source()
    add_slide_metadata(notebook)
    clear_outputs(notebook)
    after = nbformat.writes(notebook)
    if after != before:
        path.write_text(after + ("\n" if not after.endswith("\n") else ""))
        return True
    return False


def student_copy(notebook) -> "nbformat.NotebookNode":
    """Return a copy of a lesson without solution and instructor cells, outputs cleared."""
    student = copy.deepcopy(notebook)
    student.cells = [cell for cell in student.cells
                     if not ({SOLUTION_TAG, INSTRUCTOR_TAG} & set(_tags(cell)))]
    clear_outputs(student)
    return student


def write_student_copies(source: str | Path = "notebooks", target: str | Path = "students") -> list[Path]:
    """Write a student copy of every lesson in ``source`` to ``target``; return their paths."""
    source, target = Path(source), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        out = target / path.name
        nbformat.write(student_copy(notebook), out)
        written.append(out)
    return written
