# syncguard — the front door. `make help` lists the targets.
GO       ?= go
BIN      := .bin/syncguard
DATA     := .data
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   := $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
RELEASE  := .bin/release
TEST_DEBS := slapd ldap-utils chromium samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind systemd
# axe-core checks every page's accessibility in the browser tests: from npm,
# into the git-ignored .deps/, once (the tests never download it).
AXE_VERSION := 4.14.1
AXE       := .deps/node_modules/axe-core/axe.min.js

.DEFAULT_GOAL := help
.PHONY: help run build release test deps generate check-generated lint bench fuzz soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

build: ## build the syncguard binary into .bin/
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/syncguard

release: ## build static linux/amd64 and linux/arm64 binaries, version stamped, into .bin/release (with what the Dockerfile copies)
	@rm -rf $(RELEASE) && mkdir -p $(RELEASE)/data
	for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" \
	    -o $(RELEASE)/syncguard-linux-$$arch ./cmd/syncguard || exit 1; \
	done
	@cp /etc/ssl/certs/ca-certificates.crt $(RELEASE)/ 2>/dev/null || { echo "no /etc/ssl/certs/ca-certificates.crt on this host (apt-get install ca-certificates): the image would trust no CA"; touch $(RELEASE)/ca-certificates.crt; }
	@cd $(RELEASE) && sha256sum syncguard-linux-* > SHA256SUMS && cat SHA256SUMS
	@echo "version $(VERSION), commit $(COMMIT): $(RELEASE)/ (docker build -f cmd/syncguard/deploy/Dockerfile $(RELEASE))"

run: build ## start the portal on the demo data (SYNCGUARD_ADDR picks the address)
	@mkdir -p -m 700 $(DATA)
	$(BIN) --db $(DATA)/syncguard.db serve --demo

deps: ## install what the tests need (slapd, ldap-utils, chromium, a Samba AD DC, systemd-analyze, npm's axe-core) when missing
	@missing=""; \
	{ command -v slapd || test -x /usr/sbin/slapd; } >/dev/null 2>&1 || missing="$$missing slapd"; \
	{ command -v slapadd || test -x /usr/sbin/slapadd; } >/dev/null 2>&1 || missing="$$missing slapd"; \
	command -v ldapsearch >/dev/null 2>&1 || missing="$$missing ldap-utils"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ { command -v samba || test -x /usr/sbin/samba; } && command -v samba-tool; } >/dev/null 2>&1 || \
	  missing="$$missing samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "slapd slapd/no_configuration boolean true" | $$sudo debconf-set-selections 2>/dev/null || true; \
	  ( $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing ) \
	    || { echo "could not install$$missing: the tests that need them will skip (or fail with CI=true)"; [ "$$CI" != true ]; }; \
	fi
	@test -f $(AXE) || { mkdir -p .deps && npm install --prefix .deps --no-save --no-audit --no-fund axe-core@$(AXE_VERSION) >/dev/null \
	  && echo "installed axe-core $(AXE_VERSION) into .deps/"; } \
	  || { echo "could not install axe-core: the accessibility checks of the browser tests will skip (or fail with CI=true)"; [ "$$CI" != true ]; }

test: deps lint ## install what is missing, check formatting and generated code, vet and run every test
	$(GO) test -count=1 -timeout 15m ./...

generate: ## regenerate the templ views
	$(GO) tool templ generate

check-generated: ## fail when the committed *_templ.go files are stale
	@$(GO) tool templ generate -check || { echo "generated views are stale: run make generate and commit"; exit 1; }

lint: check-generated ## gofmt, go vet and templ fmt
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	$(GO) tool templ fmt -fail views

bench: ## measure the engine on generated data and record the figures in README.md
	$(GO) run ./cmd/syncbench -readme README.md

FUZZTIME      ?= 30s
SOAK_DURATION ?= 10m

fuzz: ## run every fuzz target for FUZZTIME each (default 30s; the seeds also run in make test)
	@$(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { t[n++] = $$1 } /^ok/ { for (i = 0; i < n; i++) print $$2, t[i]; n = 0 }' | \
	while read pkg name; do \
	  echo "== $$name ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

soak: ## run the portal, scheduler and outbox under load for SOAK_DURATION (default 10m) and check for leaks
	$(GO) run ./cmd/syncsoak -duration $(SOAK_DURATION)

clean: ## remove build output, local demo data and the test tools of make deps
	rm -rf .bin .data .screenshots .deps
