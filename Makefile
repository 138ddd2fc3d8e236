# The README's two commands are `make run` and `make test`; .ci/run calls `make test`.
# Every target installs what it needs first, so both work on a machine that has never seen the repo.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint translations-update translations-compile clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP) translations-compile

translations-compile: $(STAMP)
	$(BIN)/pybabel compile -d translations --use-fuzzy --statistics 2>&1 | tail -n 1

translations-update: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

run: setup
	bin/run-local

# TEST_ARGS lets CI or a developer pass pytest options, e.g. make test TEST_ARGS="-k orgs".
test: setup
	bin/test $(TEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) instance translations/*/LC_MESSAGES/*.mo
