# camelsvae: `make demo` runs the whole pipeline on synthetic CMD-like data (CPU, minutes);
# `make test` runs the test suite. Both fetch what they need first, on a fresh Debian machine
# with only Go, gcc and npm.
SHELL := /bin/bash
GO ?= go
BIN := bin/camelsvae
ORT_LIB := third_party/onnxruntime/libonnxruntime.so.1
# npm packages for the tests, exact versions: onnxruntime-node (second ONNX consumer of the export),
# DuckDB (its prebuilt native binding comes as an optional dependency) and apache-arrow (second
# readers of the latents Parquet and Arrow IPC files). The stamp records what was installed.
NODE_PKGS := onnxruntime-node@1.30.0 @duckdb/node-api@1.5.6-r.1 apache-arrow@21.2.0
NODE_STAMP := third_party/node/.installed
SWIFTSHADER := third_party/swiftshader/vk_swiftshader_icd.json
PROTOC_GEN_GO := bin/protoc-gen-go
PROTOBUF_VERSION := v1.36.12
STATICCHECK_VERSION := v0.8.2

# Debian packages the tests and benchmarks use: python3-onnx checks exported models;
# protoc + libonnx-dev regenerate the ONNX types (proto check).
APT_PACKAGES := python3-onnx python3-numpy protobuf-compiler libonnx-dev
# Peers for `make bench` and the golden-file scripts (not needed by `make test`).
APT_BENCH := python3-torch python3-sklearn python3-skimage python3-scipy python3-numpy

export CGO_ENABLED := 1

.PHONY: all ort ort-cuda build test test-deps test-webgpu swiftshader gpu-bundle bench demo report-screenshot proto proto-check lint apt-deps node-deps clean

all: build

## ort: fetch ONNX Runtime 1.30.0 (CPU) from the npm registry into third_party/onnxruntime
ort: $(ORT_LIB)
$(ORT_LIB): onnx/fetch-ort.sh
	./onnx/fetch-ort.sh third_party/onnxruntime
	touch $@  # the tarball's files are dated 1985: without this, make fetches again every time

## ort-cuda: fetch ONNX Runtime 1.29.0's CUDA provider and its 1.29 core (about 330 MB) from
## npm into third_party/onnxruntime-cuda; not part of `make test`
ort-cuda:
	./onnx/fetch-ort-cuda.sh third_party/onnxruntime-cuda

build: $(ORT_LIB)
	$(GO) build -o $(BIN) ./cmd/camelsvae

## apt-deps: Debian packages used by the tests (installed once; needs root or sudo)
apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

## node-deps: the npm packages of NODE_PKGS into third_party/node, without install scripts (about
## 145 MB to download, 370 MB installed; DuckDB and apache-arrow are 35 MB and 82 MB of that);
## does nothing when the stamp lists the same packages
node-deps:
	@if [ "$$(cat $(NODE_STAMP) 2>/dev/null)" != "$(NODE_PKGS)" ]; then \
	  echo "npm install $(NODE_PKGS)"; \
	  mkdir -p third_party/node && rm -f $(NODE_STAMP) && cd third_party/node && \
	  npm install --silent --no-audit --no-fund --ignore-scripts --include=optional --save-exact $(NODE_PKGS) >/dev/null && \
	  node -e "require('@duckdb/node-api'); require('apache-arrow'); require('onnxruntime-node')" && \
	  echo "$(NODE_PKGS)" > $(CURDIR)/$(NODE_STAMP); \
	fi

## swiftshader: a software Vulkan driver and loader (npm @sparticuz/chromium) for WebGPU without a GPU
swiftshader: $(SWIFTSHADER)
$(SWIFTSHADER): onnx/fetch-swiftshader.sh
	./onnx/fetch-swiftshader.sh third_party/swiftshader
	touch $@

test-deps: $(ORT_LIB) apt-deps node-deps $(SWIFTSHADER)

test: test-deps lint
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -race -timeout 10m ./preprocess/ ./formats/ ./synth/
	$(MAKE) --no-print-directory test-webgpu

## test-webgpu: the provider tests on ONNX Runtime's WebGPU provider over SwiftShader, against the CPU
test-webgpu: $(ORT_LIB) $(SWIFTSHADER)
	set -o pipefail; LD_LIBRARY_PATH=$(CURDIR)/third_party/swiftshader VK_ICD_FILENAMES=$(CURDIR)/third_party/swiftshader/vk_swiftshader_icd.json \
	  CAMELSVAE_TEST_PROVIDER=webgpu $(GO) test -count=1 -timeout 20m -run 'Provider' -v ./vae/ ./trainer/ | grep -E '^(=== RUN|--- |ok|FAIL|PASS|panic)|provider_test|devstep_test'

## gpu-bundle: the binary, ONNX Runtime and the Vulkan loader packed for .ci/gpu-check on a GPU machine;
## PROVIDERS=cuda (the default once `make ort-cuda` has run) packs the CUDA provider instead
gpu-bundle: $(ORT_LIB)
	./.ci/gpu-bundle gpu-bundle

## bench: Go benchmarks and the peer scripts (PyTorch, scikit-learn, scikit-image, numpy)
bench: test-deps
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); missing=""; \
	for p in $(APT_BENCH); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; fi
	./.ci/bench

demo: build
	./$(BIN) run --config configs/demo.yaml

## report-screenshot: render the demo's report.html in headless Chromium into docs/report.png
report-screenshot:
	@command -v chromium >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@test -f runs/demo/report/report.html || { echo "run 'make demo' first"; exit 1; }
	@prof=$$(mktemp -d); trap 'rm -rf $$prof' EXIT; \
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
	  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir=$$prof --window-size=1100,1800 \
	  --screenshot=$(CURDIR)/docs/report.png file://$(CURDIR)/runs/demo/report/report.html 2>/dev/null; \
	test -s docs/report.png && echo "docs/report.png"

## proto: regenerate onnx/onnxpb from Debian's libonnx-dev onnx.proto
$(PROTOC_GEN_GO):
	GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOBUF_VERSION)
proto: apt-deps $(PROTOC_GEN_GO)
	protoc --plugin=protoc-gen-go=$(PROTOC_GEN_GO) -I/usr/include/onnx --go_out=onnx/onnxpb \
	  --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/camelsvae/camelsvae/onnx/onnxpb onnx.proto
## proto-check: fail when the committed ONNX types differ from a fresh generation
proto-check: apt-deps $(PROTOC_GEN_GO)
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	protoc --plugin=protoc-gen-go=$(PROTOC_GEN_GO) -I/usr/include/onnx --go_out=$$tmp \
	  --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/camelsvae/camelsvae/onnx/onnxpb onnx.proto; \
	if ! cmp -s $$tmp/onnx.pb.go onnx/onnxpb/onnx.pb.go; then \
	  echo "onnx/onnxpb/onnx.pb.go is stale: run 'make proto' and commit"; exit 1; fi; \
	echo "proto-check: onnx/onnxpb is current (protoc $$(protoc --version | cut -d' ' -f2), protoc-gen-go $(PROTOBUF_VERSION))"

## lint: gofmt, go vet and staticcheck (a Go module at a pinned version, run with go run)
lint: proto-check
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean:
	rm -rf bin runs
