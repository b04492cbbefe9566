# The kit's front door. `make lab` to learn, `make test` to check everything.
# Both create .venv on first use and reinstall only when pyproject.toml changes.

# The interpreter that makes .venv: PYTHON when given, else the first of these that runs and is
# 3.11-3.13 (TensorFlow has no wheel for 3.14 yet; a pyenv shim of an unselected version fails to
# run and is skipped). `make check-python` says which one is used, or why none is.
PYTHON_CANDIDATES := python3.12 python3.11 python3.13 python3
PYTHON_VERSION := -c 'import sys; print("%d.%d" % sys.version_info[:2]); \
	sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))'
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach candidate,$(PYTHON_CANDIDATES),\
	$(shell $(candidate) $(PYTHON_VERSION) > /dev/null 2>&1 && echo $(candidate))))
PYTHON_GIVEN :=
else
PYTHON_GIVEN := yes
endif
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PROFILE ?= lesson
LAB_PORT ?= 8888
# Jupyter refuses to run as root unless told; containers often run as root.
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test data bench exercises slides site install check-python clean-notebooks clean help

help:
	@echo "make lab     set up, build the course data if missing, start JupyterLab"
	@echo "make test    set up, lint (ruff), run every test and notebook (ci profile), the backend-dependent ones on JAX, the process-worker ones under spawn"
	@echo "make data    rebuild the course data (PROFILE=ci|lesson|large, default lesson)"
	@echo "make bench   print the benchmark figures"
	@echo "make exercises   regenerate the learner notebooks from notebooks/solutions"
	@echo "make slides  every lesson as reveal.js slides in build/slides (live: Alt+R in JupyterLab)"
	@echo "make site    run every lesson once and build the course website in build/site (PROFILE=ci for speed)"
	@echo "make clean-notebooks   strip outputs before committing notebooks"

install: $(INSTALLED)

LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings

HOW_TO_GET_PYTHON := The kit needs Python 3.11, 3.12 or 3.13 (3.12 recommended). Get one with \
	'uv python install 3.12', 'pyenv install 3.12' or your system's package manager, then run \
	make again with PYTHON= that interpreter (for example PYTHON=python3.12).

# Before .venv is made: a supported interpreter, and a .venv (if any) made by a supported one
# (by the same version, when PYTHON is given).
check-python:
	@version=$$($(or $(PYTHON),false) $(PYTHON_VERSION) 2> /dev/null) || { \
		if [ -z "$(PYTHON)" ]; then said="none of $(PYTHON_CANDIDATES) runs and is 3.11-3.13"; \
		elif [ -n "$$version" ]; then said="$(PYTHON) is Python $$version"; \
		else said="$(PYTHON) does not run"; fi; \
		echo "No supported Python: $$said. $(HOW_TO_GET_PYTHON)" >&2; exit 1; }; \
	if [ -e $(PY) ]; then \
		made=$$($(PY) $(PYTHON_VERSION) 2> /dev/null) \
			&& { [ -z "$(PYTHON_GIVEN)" ] || [ "$$made" = "$$version" ]; } || { \
			if [ -n "$$made" ]; then said="Python $$made, not by $(PYTHON) (Python $$version)"; \
			else said="an interpreter that no longer runs"; fi; \
			echo "$(VENV) was made by $$said: run 'make clean', then make again." >&2; exit 1; }; \
	else echo "Making $(VENV) with $(PYTHON) (Python $$version)"; fi

$(INSTALLED): pyproject.toml jupyter/overrides.json Makefile | check-python
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@# The kit's JupyterLab settings (no "Jupyter news?" prompt over the lessons).
	mkdir -p $(LAB_SETTINGS) && cp jupyter/overrides.json $(LAB_SETTINGS)/overrides.json
	@# nbgrader only makes the learner notebooks (`make exercises`): keep its
	@# grading menus and server extensions out of the learners' JupyterLab.
	$(VENV)/bin/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader > /dev/null
	for part in formgrader validate_assignment assignment_list course_list; do \
		$(VENV)/bin/jupyter server extension disable --sys-prefix \
			nbgrader.server_extensions.$$part > /dev/null 2>&1; done
	@# Two kernels in JupyterLab's launcher: the same environment on either Keras backend.
	$(PY) -m ipykernel install --sys-prefix --name keras-tensorflow \
		--display-name "Keras (TensorFlow)" --env KERAS_BACKEND tensorflow > /dev/null
	$(PY) -m ipykernel install --sys-prefix --name keras-jax \
		--display-name "Keras (JAX)" --env KERAS_BACKEND jax > /dev/null
	@touch $@

lab: install
	COURSE_PROFILE=$${COURSE_PROFILE:-$(PROFILE)} $(PY) data_scripts/make_dataset.py
	COURSE_PROFILE=$${COURSE_PROFILE:-$(PROFILE)} $(VENV)/bin/jupyter lab \
		--ip=127.0.0.1 --port=$(LAB_PORT) --notebook-dir=notebooks $(LAB_ROOT_FLAG)

# The JAX suite runs what depends on the backend (README, "Two backends"): the tests marked
# `backend` and the notebooks of BACKEND_NOTEBOOKS in conftest.py, each with its reason (their
# kernels inherit KERAS_BACKEND). Lesson 11, on Grain and JAX, runs on JAX only.
GRAIN_LESSON := $(wildcard notebooks/solutions/11_*.ipynb)

# The spawn suite runs what starts worker processes from a notebook or test again with the start
# method of macOS and Windows (COURSE_START_METHOD, applied by the Setup cells and conftest.py);
# tests/test_processes.py tries spawn and forkserver in the TensorFlow suite. Under spawn, lesson
# 04's worker-memory table (and tests/test_workers.py) measures two loaders for one epoch each (a
# spawned worker shares no page, so the other two rows would repeat them).
SPAWN_TESTS := tests/test_loaders.py tests/test_workers.py \
	$(wildcard $(addprefix notebooks/solutions/,$(addsuffix _*.ipynb,03 04 05)))

# Each phase is timed; at the end `tests/timings.py` prints the times, the total and the ten
# slowest items (from each suite's JUnit report), also when a phase failed.
TEST_TIMES := build/test-times
PYTEST := $(PY) -m pytest -n 2 --durations=5

test:
	@mkdir -p build && rm -f build/tests-*.xml && : > $(TEST_TIMES); status=0; \
	phase() { name=$$1; shift; started=$$(date +%s); "$$@" || status=$$?; \
		echo "$$name $$(( $$(date +%s) - started ))" >> $(TEST_TIMES); return $$status; }; \
	phase install $(MAKE) --no-print-directory install \
	&& phase lint sh -c "$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check ." \
	&& phase "TensorFlow suite" env COURSE_PROFILE=ci $(PYTEST) \
		--junitxml=build/tests-tensorflow.xml $(addprefix --ignore=,$(GRAIN_LESSON)) \
	&& phase "JAX suite" env COURSE_PROFILE=ci KERAS_BACKEND=jax $(PYTEST) -m backend \
		--junitxml=build/tests-jax.xml \
	&& phase "spawn suite" env COURSE_PROFILE=ci COURSE_START_METHOD=spawn $(PYTEST) \
		--junitxml=build/tests-spawn.xml $(SPAWN_TESTS); \
	test -x $(PY) && $(PY) tests/timings.py $(TEST_TIMES) build/tests-*.xml; exit $$status

data: install
	$(PY) data_scripts/make_dataset.py --profile $(PROFILE) --force

bench: install
	$(PY) -m course_lib.bench

exercises: install
	$(PY) -m course_lib.course.exercises

slides: install
	$(PY) -m course_lib.course.slides

site: install
	COURSE_PROFILE=$${COURSE_PROFILE:-$(PROFILE)} $(PY) data_scripts/make_dataset.py
	COURSE_PROFILE=$${COURSE_PROFILE:-$(PROFILE)} $(PY) -m course_lib.course.site

clean-notebooks: install
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb notebooks/solutions/*.ipynb

clean:
	rm -rf $(VENV) build .pytest_cache
