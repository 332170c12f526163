# The targets CI runs (.ci/run) and a developer runs, under the same names.
.PHONY: lint typecheck test check demo bench

lint:
	ruff check .
	ruff format --check .
	lint-imports

typecheck:
	mypy

# Two workers, a test module each at a time (module fixtures stay whole); each worker
# starts its own session broker. The suite mostly waits on brokers, databases and
# browsers, so two halve its wall time on two cores (docs/development.md).
test:
	pytest -n 2 --dist loadfile

check: lint typecheck test

demo:
	ehx demo

bench:
	ehx bench --out docs
