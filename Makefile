# Minyi (民意). `make run`: install, migrate, load the demo, serve. `make test`: the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

# The tests run on SQLite and on PostgreSQL. They make (and drop) a throwaway database on the
# server this URL names; `make test TEST_DATABASE_URL=` runs on SQLite alone.
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export TEST_DATABASE_URL

.PHONY: install run test check clean

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: install
	$(FLASK) db upgrade
	$(FLASK) surveys sync
	$(FLASK) demo
	@echo
	@echo "Open a site's survey form (扫码问卷) in a browser:"
	@$(FLASK) sites | head -n 1 | cut -f4
	@echo
	@echo "Serving on http://127.0.0.1:5000 (gunicorn; no access log, so no IP address is written anywhere)"
	$(BIN)/gunicorn --workers 2 --bind 127.0.0.1:5000 wsgi:app

test: install
	$(BIN)/python -m pytest

# Definitions and migrations agree with the code.
check: install
	$(FLASK) surveys check
	$(FLASK) db upgrade && $(FLASK) db check

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
