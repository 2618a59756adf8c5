# Two commands do all the set-up on a fresh machine with Python 3.10-3.13, venv and pip:
#   make lab    create .venv, install coursekit with JupyterLab (the `lab` extra), open
#               JupyterLab on notebooks/
#   make test   create .venv, install the `test` extra too, run unit tests, docstring examples,
#               every notebook and every lesson on a student's folder (quick mode)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
LAB_STAMP := $(VENV)/.lab-installed
STAMP  := $(VENV)/.test-installed
CACHE  := $(CURDIR)/.cache
NOTEBOOK_DIR ?= notebooks
LAB_ARGS ?=
PYTEST_ARGS ?=
# Seconds one notebook cell may run in quick mode before its test fails (nbval and the own-data
# lesson tests): a stalled kernel is reported, not waited out.
CELL_TIMEOUT ?= 120
# Tests run in quick mode, with data and Keras' cache inside the project (never your ~/.keras).
TEST_ENV := COURSEKIT_QUICK=1 COURSEKIT_DATA=$(CACHE)/data KERAS_HOME=$(CACHE)/keras \
            MPLBACKEND=Agg PYTHONHASHSEED=0 JUPYTER_PLATFORM_DIRS=1 COURSEKIT_CELL_TIMEOUT=$(CELL_TIMEOUT)
# Two workers; each notebook, test file or test class is one unit, the long ones first
# (tests/conftest.py). Skips are counted and listed at the end.
PYTEST_OPTS := -n 2 --dist loadscope --no-loadscope-reorder --nbval-lax --nbval-current-env \
          --nbval-cell-timeout=$(CELL_TIMEOUT) --doctest-modules --durations=25
# The lowest TensorFlow and Keras that pyproject.toml promises, in a venv of their own.
MIN_VENV ?= .cache/venv-min

.PHONY: lab test test-min install students slides results site clean

# JupyterLab and the lessons' dependencies.
$(LAB_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	touch $@

# The lab set and the test tools (pytest, nbval, Playwright); it holds the lab set too.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(LAB_STAMP)

install: $(STAMP)

# As root (containers, CI) JupyterLab refuses to start without --allow-root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab --notebook-dir=$(NOTEBOOK_DIR) $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP)
	@mkdir -p $(CACHE)/data $(CACHE)/keras
	@$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_OPTS) tests coursekit notebooks $(PYTEST_ARGS); \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; \
	exit $$status

# The minimum versions: .ci/min-constraints.txt pins TensorFlow and Keras to pyproject.toml's
# floors; the unit tests, docstring examples and the training and explorer lessons run on them.
test-min:
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet -c .ci/min-constraints.txt -e ".[test]"
	@$(MIN_VENV)/bin/python -c "import tensorflow as tf, keras; print('minimum versions: TensorFlow', tf.__version__, 'Keras', keras.__version__)"
	@mkdir -p $(CACHE)/data $(CACHE)/keras
	@$(TEST_ENV) $(MIN_VENV)/bin/python -m pytest $(PYTEST_OPTS) -m "not slow and not browser" tests coursekit \
		notebooks/04_training_a_cnn.ipynb notebooks/07_seeing_what_cnns_learn.ipynb $(PYTEST_ARGS)

# Student copies (no solutions, no instructor notes, badge on the copy) in students/; a test
# keeps the committed copies in step with the lessons. Files that would not change are left alone.
students: $(STAMP)
	$(BIN)/python tools/course.py students

# A reveal.js deck per lesson, executed (in the mode your environment sets) so plots are in it.
slides: $(STAMP)
	$(BIN)/python tools/course.py slides --output-dir slides

# Full-mode runs of the lessons, recorded in results/<lesson>.json (each in a fresh kernel and a
# fresh data folder; the course mirror from COURSEKIT_MIRROR). Choose with LESSONS="03 05".
# Long on a 2-core CPU: run it on a quiet machine, then commit the records it writes. Afterwards
# the quoted figures (tools/figures.py --fill), the lessons' time blocks (sync) and the student
# copies are brought up to date from the new records.
LESSONS ?= 00 01 02 03 04 05 06 07
results: $(STAMP)
	@mkdir -p $(CACHE)/keras
	KERAS_HOME=$(CACHE)/keras JUPYTER_PLATFORM_DIRS=1 $(BIN)/python tools/record.py $(LESSONS)
	$(BIN)/python tools/figures.py --fill
	$(BIN)/python tools/course.py sync notebooks
	$(BIN)/python tools/course.py students

# The course website, build/site/index.html (tools/site.py): every lesson executed (the full-mode
# copy `make results` kept, else a quick-mode run made here), a landing page with the lesson map
# and the records, lesson 7's explorers working without a kernel. Builds offline with the `site`
# extra (Sphinx, MyST-NB, sphinx-book-theme). A smaller build: make site SITE_ARGS="--quick 00 07".
SITE_ARGS ?=
SITE_STAMP := $(VENV)/.site-installed
$(SITE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[site]"
	touch $@

site: $(SITE_STAMP)
	@mkdir -p $(CACHE)/keras
	KERAS_HOME=$(CACHE)/keras JUPYTER_PLATFORM_DIRS=1 $(BIN)/python tools/site.py $(SITE_ARGS)

clean:
	rm -rf $(VENV) $(CACHE) slides test-artifacts
