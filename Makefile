# The targets CI runs (.ci/run) and a developer runs, under the same names.
.PHONY: lint typecheck test check demo bench

lint:
	ruff check .
	ruff format --check .
	lint-imports

typecheck:
	mypy

test:
	pytest

check: lint typecheck test

demo:
	ehx demo

bench:
	ehx bench --out docs
