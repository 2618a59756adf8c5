"""Sphinx configuration of the course website (`make site`; tools/site.py stages the pages).

Sphinx + MyST-NB + sphinx-book-theme: every file comes from PyPI packages and this repository,
so the site builds offline and its pages load nothing from the internet (tests/test_site.py
checks every request). The lessons are executed notebooks (nb_execution_mode "off"); lesson 7's
explorers show their static copy (text/html, precomputed frames) instead of the live widget.
"""

import os

project = "Image classification with CNNs: an open course"
author = "the course authors"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_theme_options = {"repository_url": os.environ.get("COURSE_REPOSITORY_URL", ""),
                      "use_repository_button": bool(os.environ.get("COURSE_REPOSITORY_URL")),
                      "show_toc_level": 2}
html_last_updated_fmt = ""
myst_enable_extensions = ["dollarmath"]
# MathJax 2 from the PyPI package jupyter-server-mathjax, copied into _static/mathjax by
# tools/site.py (Sphinx's default loads MathJax 3 from a CDN).
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
# That package ships only the STIX-Web fonts (as Jupyter configures it): without them named here,
# MathJax asks for its default TeX fonts, which are not there, and draws nothing. MyST marks each
# page "tex2jax_ignore" and the math spans "math": MathJax 2 must be told to process that class
# (the MathJax 3 setting MyST-NB writes, processHtmlClass, means nothing to MathJax 2).
mathjax2_config = {"HTML-CSS": {"availableFonts": ["STIX-Web"], "preferredFont": "STIX-Web",
                                "webFont": "STIX-Web", "imageFont": None},
                   "SVG": {"font": "STIX-Web"},
                   "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                               "processEscapes": True,
                               "processClass": "tex2jax_process|mathjax_process|math|output_area"}}
nb_execution_mode = "off"
# No widget manager: MyST-NB would load require.js and @jupyter-widgets/html-manager from a CDN.
nb_ipywidgets_js = {}
# Live widgets cannot run on a static page: show an output's static HTML (the explorers' copy),
# else its picture.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None),
                              ("html", "text/html", 0)]
nb_merge_streams = True
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
# The executed notebooks are large (the explorers' frames): do not copy them as page sources.
html_copy_source = False
html_show_sourcelink = False
