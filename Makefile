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
	$(GO) vet -tags systemd ./test/systemd/
	cd hack/mkimage && $(GO) vet ./...
	cd hack/mkpkg && $(GO) vet ./... && $(GO) vet -tags integration ./...

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
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/ecsd-logger ./cmd/ecsd-logger-awslogs ./cmd/ecsd-logger-ship
	@# The init bind-mounted into initProcessEnabled containers and the task namespace
	@# holder: static, because the images it runs in may have no libc.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/ecsd-init

# The agent image: static binaries for each platform, one image index, no Docker
# (hack/mkimage/agentimage, go-containerregistry). Output in out/image/ (gitignored).
IMAGE_OUT := $(CURDIR)/out/image
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
# Every file and config carries the last commit's time, so a commit builds to the same digests.
IMAGE_CREATED := $(shell git log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)
AGENTIMAGE := $(BIN)/agentimage

.PHONY: image
image: ## Build the agent image for linux/amd64 and linux/arm64 into out/image/ (OCI layout + docker-archives).
	@echo "image: building the image tool (hack/mkimage/agentimage)"
	cd hack/mkimage && $(GO) build -o $(AGENTIMAGE) ./agentimage
	$(AGENTIMAGE) build -src $(CURDIR) -out $(IMAGE_OUT) -version $(VERSION) -revision $(GIT_HASH) \
		-ldflags '$(LDFLAGS)' -platforms $(IMAGE_PLATFORMS) -created $(IMAGE_CREATED)

.PHONY: push
push: push-registry image ## Push the agent image (every platform, one index): make push REGISTRY=host:port/repo[:tag].
	$(AGENTIMAGE) push -layout $(IMAGE_OUT)/oci -to $(REGISTRY)

.PHONY: push-registry
push-registry:
	@test -n "$(REGISTRY)" || { echo "usage: make push REGISTRY=host:port/repo[:tag] (plain HTTP only for 127.0.0.1/localhost)"; exit 2; }

.PHONY: setup
setup: ## Install and start containerd, runc, CNI plugins, registries and test images (idempotent).
	bash hack/setup-test-env.sh

# Tests that need root, containerd, registries, moto or network namespaces carry the build
# tag "integration"; without it, `go test` runs the unit tests only. test/e2e is nothing
# but end-to-end tests through the binaries, so it carries no tag (`go test -run X
# ./test/e2e/` runs them as root) and test-unit leaves it out; test/systemd has its own tag.
.PHONY: test-unit
test-unit: ## Run the unit tests: no root, containerd, registry or network namespace needed.
	$(GO) test $(TEST_FLAGS) -timeout 5m $$($(GO) list ./... | grep -v '/test/e2e$$')
	@# hack/mkimage is a module of its own (go-containerregistry stays out of the agent's go.mod).
	cd hack/mkimage && $(GO) test $(TEST_FLAGS) ./...
	cd hack/mkpkg && $(GO) test $(TEST_FLAGS) ./...

.PHONY: test
test: govet build ## Run every test, unit and integration (needs root and `make setup`).
	$(GO) test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) -tags integration -race $(RACE_PKGS)
	$(GO) test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) -tags integration $$($(GO) list ./... | grep -vE '/(store|controllers|controlplane|localplane|credentials)($$|/)')
	$(MAKE) --no-print-directory test-packages

# The packager is a module of its own (hack/mkpkg), so nfpm stays out of the agent's go.mod.
MKPKG := $(BIN)/mkpkg
DIST := $(CURDIR)/dist

# PKG_ARCH and PKG_FORMAT narrow what packages builds (test-systemd needs the amd64 .deb only).
PKG_ARCH ?= amd64,arm64
PKG_FORMAT ?= deb,rpm

.PHONY: packages
packages: ## Build the .deb and .rpm packages (amd64, arm64) into dist/, a timed line per step.
	@echo "[packages] building the packager (hack/mkpkg, nfpm as a library)"
	@set -o pipefail; cd hack/mkpkg && $(GO) build -v -o $(MKPKG) . 2>&1 | sed -u -e '/^go: /!s/^/  compiling /'
	$(MKPKG) -repo $(CURDIR) -out $(DIST) -version $(VERSION) -ldflags '$(LDFLAGS)' -go $(GO) -arch $(PKG_ARCH) -format $(PKG_FORMAT)

.PHONY: test-packages
test-packages: ## Build the packages and check them: dpkg-deb, lintian, rpm, installs into scratch roots (root).
	cd hack/mkpkg && $(GO) test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) -tags integration -v -run TestPackages ./...

# The systemd boot test has a tag of its own: `make test` does not run it.
.PHONY: test-cgroupv2
test-cgroupv2: ## Task cgroup limits, stats and OOM on a real cgroup v2 hierarchy, in User-Mode Linux (root; installs user-mode-linux).
	bash hack/cgroupv2-test.sh

.PHONY: test-systemd
test-systemd: ## Boot Debian 12 under systemd-nspawn, install the .deb, drive the ecs unit (root; cached root in /var/cache/ecsd).
	$(MAKE) --no-print-directory packages PKG_ARCH=amd64 PKG_FORMAT=deb
	$(GO) test $(TEST_FLAGS) -timeout 30m -tags systemd -v ./test/systemd/

# run and bench say what they do as they go: setup prints a line per part, and the build, a
# minute or more of silence on a busy machine otherwise, runs as a step (hack/step.sh).
.PHONY: bench
bench: ## Measure raw containerd vs the agent's launch latency, and the agent's memory.
	@bash hack/step.sh "make build" $(MAKE) --no-print-directory build
	bash hack/bench.sh

.PHONY: soak
soak: build ## Hundreds of short tasks with image churn (minutes); fails if the agent's memory, goroutines, checkpoint or disk use grow without bound.
	bash hack/soak.sh

.PHONY: run
run: ## Start containerd and the agent in local mode with the sample tasks.
	@$(MAKE) --no-print-directory setup
	@bash hack/step.sh "make build" $(MAKE) --no-print-directory build
	bash hack/run-local.sh
