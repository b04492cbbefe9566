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
	@echo "make test    set up, lint (ruff), run every test and notebook (ci profile), then those that need no TensorFlow on JAX"
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

# What does not need TensorFlow runs again on JAX (README, "Two backends"): these unit tests
# and solution notebooks (their kernel inherits KERAS_BACKEND). Lesson 11, on Grain, runs on
# JAX only, the backend Grain is made for (its Grain pieces are unit-tested on both).
GRAIN_LESSON := $(wildcard notebooks/solutions/11_*.ipynb)
JAX_TESTS := $(addprefix tests/test_,$(addsuffix .py,loaders sampling sources augment merged \
	models resume checks exercise_checks grain contract hdf5_rows errors features user_files \
	workers monitor)) \
	$(wildcard $(addprefix notebooks/solutions/,$(addsuffix _*.ipynb,02 03 05 06 07 11)))

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	COURSE_PROFILE=ci $(PY) -m pytest -n 2 --durations=20 $(addprefix --ignore=,$(GRAIN_LESSON))
	COURSE_PROFILE=ci KERAS_BACKEND=jax $(PY) -m pytest -n 2 --durations=10 $(JAX_TESTS)

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
