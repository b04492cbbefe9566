"""Doctests of `course_lib` find numpy as `np` and pickle, as the docstrings assume."""

import pickle

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np, pickle=pickle)
