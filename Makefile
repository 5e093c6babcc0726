# rudderhook — the commands a developer and CI use. `make help` lists them.
export GOTOOLCHAIN := local

BIN := bin/rudderhook
PKGS := ./...
# BUCKET_TAGS links more recordings bucket drivers than file:// and s3:// (cmd/rudderhook/buckets.go):
# gcs (gs://), azure (azblob://), e.g. make release BUCKET_TAGS="gcs azure".
BUCKET_TAGS ?=

.PHONY: help build release dev test test-short test-faults fuzz lint screenshots clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build bin/rudderhook
	go build -tags "$(BUCKET_TAGS)" -o $(BIN) ./cmd/rudderhook

release: ## build bin/rudderhook-release as the container image is built: without dev's embedded Temporal server (-tags nodev)
	CGO_ENABLED=0 go build -tags "nodev $(BUCKET_TAGS)" -trimpath -ldflags="-s -w" -o bin/rudderhook-release ./cmd/rudderhook

dev: build ## run everything on this laptop (embedded Temporal + UI, worker, API; a private PostgreSQL when none runs)
	$(BIN) dev --rules deploy/rules.example.yaml $(DEV_FLAGS)

test: ## vet (the release build too), then every test against PostgreSQL (the local one, else a private one per package) and in-process Temporal servers
	go vet $(PKGS)
	go vet -tags nodev ./cmd/rudderhook
	go vet -tags "nodev gcs azure" ./cmd/rudderhook
	go test -count=1 -timeout 30m $(PKGS)

test-short: ## the tests that do not link the Temporal server (fast feedback)
	go test -count=1 $$(go list ./... | grep -v /integration)

# SCENARIO=kill-worker (a regexp) runs some scenarios only; docs/reliability.md has the figures.
test-faults: build ## fault-injection suite on the built binary (kill -9, PostgreSQL/Temporal/target down, slow target); ~15 min
	RUDDERHOOK_FAULTS=1 RUDDERHOOK_FAULTS_BIN=$(CURDIR)/$(BIN) RUDDERHOOK_FAULTS_REPORT=$(CURDIR)/bin/faults-report.md \
		go test -count=1 -v -timeout 90m -run 'TestFaults/($(SCENARIO))' ./integration/faults

fuzz: ## fuzz the callback parser, then "acknowledged means storable" (real PostgreSQL, Temporal's limits); ~2 minutes
	go test ./airudder -run '^$$' -fuzz FuzzParse -fuzztime 45s
	go test ./ingest -run '^$$' -fuzz FuzzAcknowledgedIsStorable -fuzztime 60s -fuzzminimizetime 5s

lint: ## formatting, vet, staticcheck, and workflowcheck (determinism of workflow code)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	go vet $(PKGS)
	GOFLAGS= go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)
	GOFLAGS= go run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 ./workflows/...

screenshots: ## drive the rules page and the Temporal Web UI in headless Chromium and save their screenshots to docs/ui/ (needs chromium)
	RUDDERHOOK_SCREENSHOTS=1 go test -count=1 ./integration -run '^(TestRulesPageInABrowser|TestTemporalUIShowsACallsFollowUps)$$'

clean: ## remove the binary and dev's state: Temporal's and the private PostgreSQL's (.rudderhook)
	rm -rf bin .rudderhook
