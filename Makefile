# The kit's front door. `make lab` to learn, `make test` to check everything.
# Both create .venv on first use and reinstall only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PROFILE ?= lesson
LAB_PORT ?= 8888
# Jupyter refuses to run as root unless told; containers often run as root.
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test data bench exercises slides site install clean-notebooks clean help

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

$(INSTALLED): pyproject.toml jupyter/overrides.json Makefile
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
