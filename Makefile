# ecsd — containerd-native Amazon ECS container agent.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN := $(BIN)/controller-gen
# golangci-lint, pinned and built from the Go module proxy (no binary downloads).
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
VERSION ?= 0.1.0
GIT_HASH := $(shell git rev-parse --short=8 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/ecsd/ecsd/internal/version.Version=$(VERSION) -X github.com/ecsd/ecsd/internal/version.GitHash=$(GIT_HASH)
# Packages whose tests run under the race detector (the concurrent core).
RACE_PKGS := ./store/... ./controllers/... ./controlplane/... ./localplane/... ./credentials/...
TEST_TIMEOUT ?= 30m
# Test binaries are linked without DWARF (-w): about a quarter of each link's CPU, and
# linking ~55 test binaries is most of a warm `make test-unit`. Stack traces keep their
# symbols; only a debugger attached to a test binary would miss it.
TEST_FLAGS := -count=1 -ldflags=-w

.PHONY: help
help: ## Show this help.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-12s %s\n",$$1,$$2}'

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy code for api/.
	$(CONTROLLER_GEN) object paths=./api/...

$(CONTROLLER_GEN):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

.PHONY: fmt
fmt: ## gofmt every Go file.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: govet lint ## go vet, the gofmt check and golangci-lint (.golangci.yml: layering, errors, imports, helpers).

.PHONY: govet
govet: ## go vet (with and without the integration tag) and a gofmt check.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	cd hack/mkimage && $(GO) vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## golangci-lint with .golangci.yml (depguard layering, errorlint, gci, unparam, thelper).
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	@echo "building golangci-lint $(GOLANGCI_LINT_VERSION) from the module proxy (once; a few minutes)"
	GOBIN=$(BIN)/.golangci-lint $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/.golangci-lint/golangci-lint $@

.PHONY: build
build: ## Build ecs-agent (and the other binaries) into bin/.
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...
	@# The logger the shim runs per container: static, so it needs nothing on the host.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/ecsd-logger ./cmd/ecsd-logger-awslogs
	@# The init bind-mounted into initProcessEnabled containers and the task namespace
	@# holder: static, because the images it runs in may have no libc.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/ecsd-init

.PHONY: setup
setup: ## Install and start containerd, runc, CNI plugins, registries and test images (idempotent).
	bash hack/setup-test-env.sh

# Tests that need root, containerd, registries, moto or network namespaces carry the build
# tag "integration"; without it, `go test` runs the unit tests only.
.PHONY: test-unit
test-unit: ## Run the unit tests: no root, containerd, registry or network namespace needed.
	$(GO) test $(TEST_FLAGS) -timeout 5m ./...
	@# hack/mkimage is a module of its own (go-containerregistry stays out of the agent's go.mod).
	cd hack/mkimage && $(GO) test $(TEST_FLAGS) ./...

.PHONY: test
test: govet build ## Run every test, unit and integration (needs root and `make setup`).
	$(GO) test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) -tags integration -race $(RACE_PKGS)
	$(GO) test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) -tags integration $$($(GO) list ./... | grep -vE '/(store|controllers|controlplane|localplane|credentials)($$|/)')

.PHONY: bench
bench: build ## Measure raw containerd vs the agent's launch latency, and the agent's memory.
	bash hack/bench.sh

.PHONY: soak
soak: build ## Hundreds of short tasks with image churn (minutes); fails if the agent's memory, goroutines, checkpoint or disk use grow without bound.
	bash hack/soak.sh

.PHONY: run
run: setup build ## Start containerd and the agent in local mode with the sample tasks.
	bash hack/run-local.sh
