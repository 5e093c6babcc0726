// Package faults is rudderhook's fault-injection suite (`make test-faults`). Each scenario runs the built
// binary as real processes — `dev`, or `serve` and `worker` against `dev --temporal-only` — sends a
// bounded load of signed callbacks with a sender that retries as a webhook sender does, injects one fault
// mid-load (kill -9, PostgreSQL or Temporal stopped, the follow-up target down or slow), and then counts,
// in PostgreSQL, in Temporal and at the target, that every acknowledged callback was stored once and
// every follow-up delivered, with nothing stuck. docs/reliability.md keeps the figures.
//
// The scenarios are skipped unless RUDDERHOOK_FAULTS=1, so `go test ./...` only checks the load the suite
// builds (TestLoadIsWhatTheSuiteCounts, in a fraction of a second). It has no code of its own; it links
// no Temporal server (the binary it runs does).
package faults
