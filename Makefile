# Two commands do all the set-up on a fresh machine with Python 3.10-3.13 and pip:
#   make lab    create .venv, install everything, open JupyterLab on notebooks/
#   make test   create .venv, install everything, run unit tests, docstring examples and
#               every notebook (quick mode)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CACHE  := $(CURDIR)/.cache
NOTEBOOK_DIR ?= notebooks
LAB_ARGS ?=
PYTEST_ARGS ?=
# Tests run in quick mode, with data and Keras' cache inside the project (never your ~/.keras).
TEST_ENV := COURSEKIT_QUICK=1 COURSEKIT_DATA=$(CACHE)/data KERAS_HOME=$(CACHE)/keras \
            MPLBACKEND=Agg PYTHONHASHSEED=0 JUPYTER_PLATFORM_DIRS=1

.PHONY: lab test install students slides results clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# As root (containers, CI) JupyterLab refuses to start without --allow-root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=$(NOTEBOOK_DIR) $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP)
	@mkdir -p $(CACHE)/data $(CACHE)/keras
	@$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax \
		--nbval-current-env --doctest-modules --durations=15 tests coursekit notebooks $(PYTEST_ARGS); \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; \
	exit $$status

# Student copies (no solutions, no instructor notes, badge on the copy) in students/; a test
# keeps the committed copies in step with the lessons. Files that would not change are left alone.
students: $(STAMP)
	$(BIN)/python tools/course.py students

# A reveal.js deck per lesson, executed (in the mode your environment sets) so plots are in it.
slides: $(STAMP)
	$(BIN)/python tools/course.py slides --output-dir slides

# Full-mode runs of the lessons, recorded in results/<lesson>.json (each in a fresh kernel and a
# fresh data folder; the course mirror from COURSEKIT_MIRROR). Choose with LESSONS="03 05".
# Long on a 2-core CPU: run it on a quiet machine, then commit the records it writes.
LESSONS ?= 04 05 06 07
results: $(STAMP)
	@mkdir -p $(CACHE)/keras
	KERAS_HOME=$(CACHE)/keras JUPYTER_PLATFORM_DIRS=1 $(BIN)/python tools/record.py $(LESSONS)

clean:
	rm -rf $(VENV) $(CACHE) slides test-artifacts
