# hydrocast — the two commands a newcomer needs are `make demo` and `make test`.

GO        ?= go
BIN       := bin/hydrocast
DEMO_DIR  ?= var/demo
FUZZTIME  ?= 2m

.PHONY: all setup build demo test test-short bench fuzz notebooks generate lint clean

all: build

## setup: fetch the ONNX Runtime shared library into .cache/ (once)
setup:
	@scripts/setup-ort.sh

## build: compile the hydrocast binary into bin/
build:
	$(GO) build -o $(BIN) ./cmd/hydrocast

## demo: simulate, train and register models (first run), serve, replay a workout
demo: setup build
	@scripts/demo.sh $(BIN) $(DEMO_DIR)

## test: run every test (needs Redis and PostgreSQL on 127.0.0.1 for some suites)
test: setup
	$(GO) vet ./...
	$(GO) test -count=1 ./...

## bench: run the benchmarks and print the table with ratios to their references
bench: setup
	@scripts/bench.sh

## fuzz: run every fuzz target for FUZZTIME each (2m: over an hour; CI runs 3s each)
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

## notebooks: execute the researchers' notebooks on freshly made inputs (needs jupyter)
notebooks: setup build
	@PYTHON=$${PYTHON:-/usr/bin/python3} scripts/notebooks.sh $(BIN)

## generate: regenerate the protocol code in api/ (needs protoc; see DEVELOPERS.md)
generate:
	$(GO) generate ./api

clean:
	rm -rf bin var
