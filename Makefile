# The project's everyday commands; README.md's table says what
# each one runs. CI (.ci/run) runs the checks of lint, test and race.

GO       ?= go
TAGS     ?= invariants
FUZZTIME ?= 3s

.PHONY: test race fuzz-smoke bench lint

# test is the README's test command: every package, invariants on.
test:
	$(GO) test -tags $(TAGS) ./...

# race runs the race detector on the packages where it fits in CI's time;
# scripts/race holds the list, for CI and this target alike.
race:
	GO=$(GO) TAGS=$(TAGS) scripts/race

# fuzz-smoke runs each fuzz target for FUZZTIME (make fuzz-smoke FUZZTIME=30s).
fuzz-smoke:
	GO=$(GO) TAGS=$(TAGS) scripts/fuzz-smoke $(FUZZTIME)

# bench runs the benchmark with its defaults on a local 3-node cluster.
bench:
	$(GO) run ./cmd/bench

# lint fails on unformatted files, then vets with and without the
# invariants tag (each tag value compiles a different internal/invariants).
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...
	$(GO) vet ./...
