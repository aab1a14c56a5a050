# cnnctl — `make` builds, fetches MNIST, trains LeNet-BN and evaluates it;
# `make test` is the test suite (.ci/run calls exactly this).

GO      ?= go
BIN     := bin/cnnctl
CONFIG  ?= configs/lenet-bn-mnist.yaml
RUN     ?= runs/$(basename $(notdir $(CONFIG)))
# The packages whose results depend on which kernels the CPU runs.
COMPUTE := ./internal/kernels/... ./internal/parallel ./internal/ops ./internal/model/... ./internal/train ./internal/eval
# The only packages with per-architecture files (the rest is the same Go everywhere).
PERARCH := ./internal/kernels/...
# Vet and the plain test passes build as `build` does (pure Go, trimmed
# paths), so they and bin/cnnctl share one compile of every package: on a
# clean machine the compiles, not the tests, are most of CI's time.
PURE    := CGO_ENABLED=0 GOFLAGS="-trimpath $(GOFLAGS)"
# go test without its own vet, which would repeat for each build flavour
# (race, pure, fuzz) what test's `go vet ./...` has checked (40 s cold).
GOTEST  := $(GO) test -vet=off -count=1
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all build data train eval test bench check-predict check-augment fuzz clean

all: build data train eval

# A static, pure-Go binary.
build:
	$(PURE) $(GO) build -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/cnnctl

data: build
	$(BIN) data mnist --dir data/mnist

train: build
	$(BIN) train -c $(CONFIG)

eval: build
	$(BIN) eval --model $(RUN)/best.ckpt

# test: formatting, vet (also of the arm64 build of the kernels, whose
# portable stand-ins an amd64 build never compiles, and a check that they
# export the same API there, so the rest compiles too), the whole suite under the
# race detector (-short: the few long numeric sweeps cut down, since the race
# detector slows them tenfold), the compute packages in full, and
# the compute packages again with the AVX2 kernels and with the portable Go
# ones, as a CPU without AVX-512 (or without AVX2) runs them.
test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(PURE) $(GO) vet ./...
	GOARCH=arm64 $(PURE) $(GO) vet $(PERARCH)
	GO=$(GO) tools/archapi.sh $(PERARCH)
	$(GOTEST) -race -short ./...
	$(PURE) $(GOTEST) $(COMPUTE)
	GODEBUG=cpu.avx512f=off $(PURE) $(GOTEST) $(COMPUTE)
	GODEBUG=cpu.avx512f=off,cpu.avx2=off $(PURE) $(GOTEST) $(COMPUTE)

# Printed digits in ten fonts against the LeNet-BN MNIST model (trains it first if needed),
# and a 1 and a 0 drawn on serve's page in headless Chromium.
check-predict: build
	test -f runs/lenet-bn-mnist/best.ckpt || $(MAKE) data train CONFIG=configs/lenet-bn-mnist.yaml
	CNNCTL_MNIST_MODEL=$(CURDIR)/runs/lenet-bn-mnist/best.ckpt $(PURE) $(GOTEST) -v -run PrintedDigits ./internal/predict/
	CNNCTL_MNIST_MODEL=$(CURDIR)/runs/lenet-bn-mnist/best.ckpt $(PURE) $(GOTEST) -v -run PageInChromium ./internal/serve/

# The augmentation figures (not in CI: training takes minutes): trains
# configs/lenet-bn-mnist-augment.yaml if needed, evaluates it on the MNIST
# test set, and checks ≥ 99 % on printed digits in twenty fonts.
check-augment: build data
	test -f runs/lenet-bn-mnist-augment/best.ckpt || $(BIN) train -c configs/lenet-bn-mnist-augment.yaml
	$(BIN) eval --model runs/lenet-bn-mnist-augment/best.ckpt
	CNNCTL_MNIST_AUGMENT_MODEL=$(CURDIR)/runs/lenet-bn-mnist-augment/best.ckpt $(PURE) $(GOTEST) -v -run PrintedDigitsWithAugmentedModel ./internal/predict/

# fuzz: every parser's fuzz target for FUZZTIME each (.ci/run: 10s).
FUZZTIME ?= 30s
FUZZ := ./internal/config:FuzzParse ./internal/checkpoint:FuzzParseSafetensors ./internal/data:FuzzParseIDX ./internal/data:FuzzDecodeImage ./internal/data:FuzzDecodePNGFast ./internal/data:FuzzParseCSV ./internal/data:FuzzParseNPY ./internal/serve:FuzzRequest
fuzz:
	@GO=$(GO) tools/fuzz.sh $(FUZZTIME) $(FUZZ)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./internal/kernels/gemm/ ./internal/ops/ ./internal/model/

clean:
	rm -rf bin
