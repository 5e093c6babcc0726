// Package integration holds rudderhook's end-to-end tests: real HTTP requests against the api package,
// workflows on an in-process Temporal server (devserver), and the real PostgreSQL (one fresh database per
// test). It has no code of its own; its test binary is the one that links the Temporal server, so tests
// that need the whole system belong here and nowhere else.
package integration
