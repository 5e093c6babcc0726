package ratelimit_test

import (
	"strconv"
	"testing"

	"github.com/rudderhook/rudderhook/ratelimit"
)

// Each client has its own bucket: one that has used its burst is refused while another is not, and
// asking whether a bucket is empty takes nothing from it.
func TestPerClientBuckets(t *testing.T) {
	p := ratelimit.NewPerClient(0.0001, 2)
	if p.Exhausted("a") {
		t.Fatal("a fresh client is exhausted")
	}
	for i := range 2 {
		if !p.Allow("a") {
			t.Fatalf("token %d of a burst of 2 refused", i+1)
		}
	}
	if p.Allow("a") || !p.Exhausted("a") {
		t.Error("a third token taken from a burst of 2")
	}
	if p.Exhausted("b") || !p.Allow("b") {
		t.Error("client b limited by a's use")
	}
}

// The buckets are bounded: past MaxClients, the least recently seen client's bucket is dropped.
func TestPerClientIsBounded(t *testing.T) {
	p := ratelimit.NewPerClient(0.0001, 1)
	if !p.Allow("first") || p.Allow("first") {
		t.Fatal("burst of 1")
	}
	for i := range ratelimit.MaxClients {
		p.Allow(strconv.Itoa(i))
	}
	if !p.Allow("first") {
		t.Error("the least recently seen client kept its bucket past MaxClients")
	}
}
