# The two commands of the README. Both set up what they need first (scripts/setup.sh).
.PHONY: setup grade test test-fast bench

setup:
	bash scripts/setup.sh

grade: setup
	.venv/bin/grade assignments/alice.ipynb --out grades

test: setup
	.venv/bin/python -m pytest -v

test-fast: setup
	.venv/bin/python -m pytest -v -m "not slow and not calibration"

bench: setup
	.venv/bin/python bench/grade_one.py
