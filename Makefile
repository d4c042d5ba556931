# The front door. `make` builds into build/ (the CLI is build/hades); `make test` runs every test;
# `make demo` runs the service: embeds a few sentences with all-MiniLM-L6-v2, prints their
# similarities, chunks a document with a chunking model loaded beside it, lists, stops.
# Each target installs what it needs first.

JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
CMAKE_FLAGS ?=

.PHONY: all deps model python-venv configure build test test-fast test-asan test-fuzz test-tsan tidy demo \
  bench bench-compare format clean

all: build

deps:
	./scripts/install-deps.sh

model:
	./scripts/fetch-minilm.sh $(BUILD)/hf-hub

# The one venv of every Python test (the client, the Haystack components, the interop tests), made
# afresh whenever the lock file changes. The packages themselves are installed by the tests.
PY_VENV := $(BUILD)/py-venv
python-venv: $(PY_VENV)/.lock
$(PY_VENV)/.lock: tests/python/requirements.lock | deps
	rm -rf $(PY_VENV)
	python3 -m venv $(PY_VENV)
	$(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	cp $< $@

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The whole suite: the release build runs every label, the sanitizer build the unit, ops, parity
# and tokenizer labels (AddressSanitizer + UndefinedBehaviorSanitizer), each fuzzer runs briefly
# over its seed corpus, and the concurrency tests run under ThreadSanitizer.
test: build model python-venv tidy test-asan test-fuzz test-tsan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-fast: build model python-venv
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps model
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHADES_SANITIZE=ON \
	  -DHADES_BUILD_BENCH=OFF -DHADES_BUILD_E2E=OFF -DHADES_TEST_HF_CACHE=$(abspath $(BUILD))/hf-hub $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L 'unit|ops|parity|tokenizer'

# clang-tidy over hades's own sources (src/, tools/ and the headers they include; the checks and
# why some are left out: .clang-tidy), with the release tree's compile commands. Any finding fails.
tidy: build
	run-clang-tidy-14 -quiet -j $(JOBS) -p $(BUILD) '^$(abspath .)/(src|tools)/.*\.cpp$$' \
	  > $(BUILD)/tidy.log 2>&1; status=$$?; \
	  grep -E '(error|warning): ' $(BUILD)/tidy.log | sort -u; \
	  if [ $$status -ne 0 ]; then tail -n 20 $(BUILD)/tidy.log; echo "tidy: clang-tidy found problems (all of its output: $(BUILD)/tidy.log)"; fi; \
	  exit $$status

# libFuzzer harnesses (fuzz/, clang, ASan+UBSan), HADES_FUZZ_SECONDS each over a copy of their
# seed corpus. Only the harnesses and the libraries they link are built.
HADES_FUZZ_SECONDS ?= 10
test-fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHADES_FUZZ=ON \
	  -DHADES_BUILD_TESTS=OFF -DHADES_BUILD_BENCH=OFF -DHADES_FUZZ_SECONDS=$(HADES_FUZZ_SECONDS) \
	  $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS) -L fuzz

# ThreadSanitizer: the registry unit test and the service's concurrent e2e tests, with a TSan-built
# `hades` behind them. One OpenMP thread: libgomp is not instrumented, so TSan cannot see its
# barriers and would report the compute kernels' hand-offs between threads as races.
TSAN_TESTS := unit_engine_registry_test unit_engine_admission_test unit_engine_executor_test e2e_server_api_test e2e_server_lifecycle_test \
  e2e_client_concurrency_test
test-tsan: deps model
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHADES_TSAN=ON \
	  -DHADES_BUILD_BENCH=OFF -DHADES_TEST_HF_CACHE=$(abspath $(BUILD))/hf-hub $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target hades $(TSAN_TESTS)
	rm -f $(TSAN_BUILD)/tsan-report.*
	cd $(TSAN_BUILD) && OMP_NUM_THREADS=1 HADES_E2E_CLIENTS=8 HADES_E2E_REQUESTS=25 \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(abspath tests/tsan.supp) log_path=$(abspath $(TSAN_BUILD))/tsan-report" \
	  ctest --output-on-failure -j $(JOBS) -R '^($(subst $(eval) ,|,$(strip $(TSAN_TESTS))))$$'; \
	  status=$$?; \
	  if ls tsan-report.* >/dev/null 2>&1; then cat tsan-report.*; exit 1; fi; \
	  exit $$status
	@# Reports go to files (the daemons the e2e tests start write there too) and are printed
	@# whether or not ctest failed: a test that halts on a report shows only a cut-off log.

# The real chonky weights are not reachable from the build machines: the chunking step runs a tiny
# random DistilBERT token classifier from tests/data, and says so.
demo: build model
	HF_HUB_CACHE=$(abspath $(BUILD))/hf-hub HADES_MODEL_MGR_SOCKET=$(abspath $(BUILD))/demo.sock \
	  ./$(BUILD)/hades demo --chunk-model $(abspath tests/data/models/tiny-distilbert-chonky) \
	  --chunk-note "a tiny RANDOM fixture model (the real mirth/chonky weights are not reachable here), so the cuts are arbitrary"

bench: build model
	HF_HUB_CACHE=$(abspath $(BUILD))/hf-hub ./$(BUILD)/bench/hades_bench_embed

# hades beside sentence-transformers, ONNX Runtime and OpenVINO on this machine, in one run
# (bench/compare.py). It creates $(BUILD)/bench-venv with the pinned PyTorch stack and the peers'
# packages from PyPI unless BENCH_VENV names one (which must have them: bench/compare_peers.py).
# BENCH_NO_FAMILIES=1 leaves out the model families (bench/compare_families.py).
bench-compare: build model
	python3 bench/compare.py --build $(BUILD) --record $(if $(BENCH_VENV),--venv $(BENCH_VENV)) \
	  $(if $(BENCH_NO_FAMILIES),--no-families)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
