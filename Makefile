# lunet -- `make run` and `make test` install what is missing (Debian 12
# packages), build with CMake and run. The binary is build/lunet.

PKGS := cmake pkg-config gcc make libluajit2-5.1-dev libuv1-dev libleveldb-dev \
        libsodium-dev libmsgpack-dev libcjson-dev libhttp-parser-dev lua-busted \
        lua-socket
# What only the tests need: Debian's Chromium for the dashboard's browser
# test, and clients/js's npm packages (package-lock.json; node and npm come
# with the machine).
TEST_PKGS := chromium
JS_DIR := clients/js
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JOBS := $(shell nproc 2>/dev/null || echo 2)

# $(call apt_missing,PACKAGES): installs those not installed yet.
define apt_missing
	@missing=""; for p in $(1); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

.PHONY: all deps test-deps build asan test run bench fuzz clean install

all: build

deps:
	$(call apt_missing,$(PKGS))

# npm ci only when node_modules is missing or older than the lock file, so
# later runs need no network.
test-deps: deps
	$(call apt_missing,$(TEST_PKGS))
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "installing: nodejs npm"; $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm; }
	@if [ ! -f $(JS_DIR)/node_modules/.package-lock.json ] || \
	    [ $(JS_DIR)/package-lock.json -nt $(JS_DIR)/node_modules/.package-lock.json ]; then \
	  echo "npm ci in $(JS_DIR)"; \
	  (cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error); \
	fi

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(JOBS)

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLN_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

# Every test: C unit tests (release and ASan/UBSan builds), the busted specs
# through `lunet test`, then clients/js's tests (node --test: the client and
# the dashboard in Chromium). Ends with one line: N passed, N failed.
test: build asan test-deps
	@tests/run_all.sh

run: build
	build/lunet dev

# The binary to PREFIX/bin, the files it finds (configs, consensus and
# plugins, contracts, templates, its Lua library) to PREFIX/share/lunet;
# DESTDIR is prepended to both (packaging).
PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" cmake --install build --prefix "$(PREFIX)"

bench: build
	@cmake --build build --target bench_exec bench_vm bench_state bench_tree bench_mine -j$(JOBS)
	build/bench_vm
	build/bench_exec 20000
	build/bench_state quick
	build/bench_tree 100
	build/bench_mine
	build/lunet bench -n 20000

# Fuzz targets (clang's libFuzzer with ASan/UBSan): each runs FUZZ_SECONDS.
# New inputs go to build-fuzz/corpus_NAME; copy the ones worth keeping (a
# crash once fixed) to tests/fuzz/corpus_NAME, which `make test` replays.
FUZZ_SECONDS ?= 60
fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DLN_FUZZ=ON >/dev/null
	@cmake --build build-fuzz --target fuzz_codec fuzz_tx fuzz_http fuzz_rpc fuzz_p2p -j$(JOBS)
	build-fuzz/fuzz_codec -max_total_time=$(FUZZ_SECONDS)
	@mkdir -p build-fuzz/corpus_tx build-fuzz/corpus_http build-fuzz/corpus_rpc
	build-fuzz/fuzz_tx -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus_tx tests/fuzz/corpus_tx
	build-fuzz/fuzz_http -max_total_time=$(FUZZ_SECONDS) -max_len=16384 build-fuzz/corpus_http tests/fuzz/corpus_http
	build-fuzz/fuzz_rpc -max_total_time=$(FUZZ_SECONDS) -max_len=8192 build-fuzz/corpus_rpc tests/fuzz/corpus_rpc
	@mkdir -p build-fuzz/corpus_p2p
	build-fuzz/fuzz_p2p -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=30 \
	    build-fuzz/corpus_p2p tests/fuzz/corpus_p2p

clean:
	rm -rf build build-asan
