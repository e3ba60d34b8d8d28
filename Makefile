# stowage — see README.md.
GO        ?= go
PKGS      ?= ./...
TESTFLAGS ?= -count=1 -timeout 45m
LONGFLAGS ?= -count=1 -timeout 3h
STATICCHECK_VERSION = v0.8.2

.PHONY: test test-unit test-long soak bench demo dev dev-down lint servers build

## test: everything — unit tests, conformance on all backends, integration
## tests against MinIO, versitygw and rclone serve s3 (started and stopped here).
test: build
	localstack/run.sh scripts/gotest.sh $(TESTFLAGS) $(PKGS)

## test-unit: the tests that need no server (S3 backends are skipped).
test-unit:
	$(GO) test $(TESTFLAGS) $(PKGS)

## test-long: 100,000 simulation seeds, 1,000 SIGKILL crash runs, the long soak,
## a 50,000-revision session (TestLongSessionFullScale).
test-long: build
	STOWAGE_TEST_LONG=1 localstack/run.sh scripts/gotest.sh $(LONGFLAGS) -run 'Simulation|Crash|FullScale' $(PKGS)

build:
	$(GO) build $(PKGS)

## demo: README command one.
demo:
	$(GO) run ./cmd/stowage demo

## servers: install the pinned S3 servers into the tools cache.
servers:
	localstack/install.sh

## dev: bring the local stack up for a person (once: a second run reuses it);
## prints the env file to source (AWS_* credentials and STOWAGE_STORE).
dev:
	@localstack/dev.sh $${STOWAGE_LOCALSTACK_DIR:-$${TMPDIR:-/tmp}/stowage-dev}

dev-down:
	@localstack/down.sh $${STOWAGE_LOCALSTACK_DIR:-$${TMPDIR:-/tmp}/stowage-dev}

## lint: gofmt, go vet, staticcheck, a tidy go.mod and no function over 80
## lines (internal/tools/funclen; CI runs it before the tests).
lint:
	$(GO) mod tidy -diff
	$(GO) run ./internal/tools/funclen
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

## soak: the long soak test against both local servers (minutes; set
## STOWAGE_SOAK_DURATION, default 2m per server); prints operation and fault counts.
soak: build
	STOWAGE_TEST_LONG=1 localstack/run.sh scripts/gotest.sh $(TESTFLAGS) -run 'TestSoakSimulation' ./internal/soak

## bench: stowage vs the raw SDK (os for the file store), side by side, on a
## file store and on both local servers; writes the table to $(BENCH_OUT).
## BENCHFLAGS=--quick for a short run.
BENCH_OUT ?= bench-results.md
BENCHFLAGS ?=
bench: build
	@dir=$$(mktemp -d "$${TMPDIR:-/tmp}/stowage-bench.XXXXXX") && \
	localstack/run.sh sh -c 'AWS_ACCESS_KEY_ID=$$STOWAGE_TEST_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$$STOWAGE_TEST_SECRET_KEY \
	  $(GO) run ./cmd/stowage bench $(BENCHFLAGS) --markdown \
	  --store "file://$$0/fsstore" \
	  --store "s3://$$STOWAGE_TEST_BUCKET/bench?endpoint=$$STOWAGE_TEST_MINIO_ENDPOINT&quirks=minio" \
	  --store "s3://$$STOWAGE_TEST_BUCKET/bench?endpoint=$$STOWAGE_TEST_VERSITYGW_ENDPOINT&quirks=versitygw"' "$$dir" > $(BENCH_OUT); \
	rc=$$?; cat $(BENCH_OUT); rm -rf "$$dir"; exit $$rc
