# lunet -- `make run` and `make test` install what is missing (Debian 12
# packages), build with CMake and run. The binary is build/lunet.

PKGS := cmake pkg-config gcc make libluajit2-5.1-dev libuv1-dev libleveldb-dev \
        libsodium-dev libmsgpack-dev libcjson-dev libhttp-parser-dev lua-busted \
        lua-socket
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JOBS := $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build asan test run bench fuzz clean

all: build

deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(JOBS)

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLN_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

# Every test: C unit tests (release and ASan/UBSan builds), then the busted
# specs through `lunet test`. Ends with one line: N passed, N failed.
test: build asan
	@tests/run_all.sh

run: build
	build/lunet dev

bench: build
	@cmake --build build --target bench_exec bench_vm bench_state -j$(JOBS)
	build/bench_vm
	build/bench_exec 20000
	build/bench_state quick
	build/lunet bench -n 20000

# Fuzz targets (clang's libFuzzer with ASan/UBSan): each runs FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DLN_FUZZ=ON >/dev/null
	@cmake --build build-fuzz --target fuzz_codec fuzz_tx fuzz_p2p -j$(JOBS)
	build-fuzz/fuzz_codec -max_total_time=$(FUZZ_SECONDS)
	@mkdir -p build-fuzz/corpus_tx
	build-fuzz/fuzz_tx -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus_tx tests/fuzz/corpus_tx
	@mkdir -p build-fuzz/corpus_p2p
	build-fuzz/fuzz_p2p -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=30 \
	    build-fuzz/corpus_p2p tests/fuzz/corpus_p2p

clean:
	rm -rf build build-asan
