# stowage — see README.md.
GO        ?= go
PKGS      ?= ./...
TESTFLAGS ?= -count=1 -timeout 45m
STATICCHECK_VERSION = v0.8.2

.PHONY: test test-unit test-long soak bench demo dev dev-down lint servers build

## test: everything — unit tests, conformance on all backends, integration
## tests against MinIO and versitygw (started and stopped here).
test: build
	localstack/run.sh scripts/gotest.sh $(TESTFLAGS) $(PKGS)

## test-unit: the tests that need no server (S3 backends are skipped).
test-unit:
	$(GO) test $(TESTFLAGS) $(PKGS)

## test-long: the long simulation and crash runs.
test-long: build
	STOWAGE_TEST_LONG=1 localstack/run.sh scripts/gotest.sh $(TESTFLAGS) -run 'Simulation|Crash' $(PKGS)

build:
	$(GO) build $(PKGS)

## servers: install the pinned S3 servers into the tools cache.
servers:
	localstack/install.sh

## dev: bring the local stack up for a person; prints the env file to source.
dev:
	localstack/up.sh $${STOWAGE_LOCALSTACK_DIR:-$${TMPDIR:-/tmp}/stowage-dev}

dev-down:
	localstack/down.sh $${STOWAGE_LOCALSTACK_DIR:-$${TMPDIR:-/tmp}/stowage-dev}

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
