# Two commands on a fresh machine:  `make demo`  and  `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export RAY_AUTH_MODE := disabled
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test clean browser screenshots

# The dashboard's browser test drives Debian's headless Chromium; install it when missing (root).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium; the browser test will skip"

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel comes from the local disk; an unpinned torch pulls CUDA.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	# Three packages ship a `fasttext` module; the full binding must be installed last.
	-$(BIN)/pip uninstall -y -q fasttext
	$(BIN)/pip install -q --force-reinstall --no-deps fasttext-numpy2-wheel==0.9.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/longterm demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# docs/images/*.png: the Prefect UI and the dashboard on a tiny real run (about 5 min)
screenshots: $(STAMP) browser
	$(BIN)/python -m tests.flows.screenshots --out docs/images

clean:
	rm -rf $(VENV) runs .pytest_cache
