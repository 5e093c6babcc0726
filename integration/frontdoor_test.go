package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
)

// withSources starts a system whose sources are the given YAML.
func withSources(t *testing.T, yaml string) *system {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rudderhook.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return start(t, options{environ: []string{"RUDDERHOOK_CONFIG=" + path}})
}

// A flood with a wrong URL token is refused before the rate limiter, so the real sender still gets in.
func TestWrongTokenFloodDoesNotStarveTheSender(t *testing.T) {
	t.Parallel()
	s := withSources(t, `
sources:
  acme:
    keys: [airudder]
    token: the-right-token-0123456789
    rate_per_second: 0.001
    burst: 1
`)
	for i := range 20 {
		req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/acme/wrong-token/call-completed", strings.NewReader(string(airudder.ExampleCallCompleted)))
		req.Header.Set("Content-Type", "application/json")
		if status, b := s.do(req); status != http.StatusUnauthorized || errorCode(t, b) != "invalid_token" {
			t.Fatalf("flood request %d = %d %s, want 401 invalid_token", i, status, b)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/acme/the-right-token-0123456789/call-completed", strings.NewReader(string(airudder.ExampleCallCompleted)))
	req.Header.Set("Content-Type", "application/json")
	if status, b := s.do(req); status != http.StatusOK {
		t.Fatalf("the real sender after the flood = %d %s, want 200", status, b)
	}
	s.waitWorkflow("call/acme/" + seedCallID)
	// The budget is spent by the real sender's own requests only.
	req, _ = http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/acme/the-right-token-0123456789/call-completed", strings.NewReader(string(airudder.ExampleCallCompleted)))
	req.Header.Set("Content-Type", "application/json")
	if status, b := s.do(req); status != http.StatusTooManyRequests {
		t.Errorf("a second request within the rate = %d %s, want 429", status, b)
	}
}

// A body over the source's cap on calls is refused with 413 before any start.
func TestTooManyCallsIsRefusedBeforeAnyStart(t *testing.T) {
	t.Parallel()
	s := withSources(t, "sources:\n  capped:\n    keys: [airudder]\n    max_calls_per_body: 2\n")
	body := signed(t, func(_ map[string]any, d []any) []any {
		return []any{detailCopy(d, "cap-1"), detailCopy(d, "cap-2"), detailCopy(d, "cap-3")}
	})
	status, b := s.post("capped", body, "application/json")
	if status != http.StatusRequestEntityTooLarge || errorCode(t, b) != "too_many_calls" || !strings.Contains(string(b), "at most 2") {
		t.Fatalf("POST of 3 calls = %d %s, want 413 too_many_calls", status, b)
	}
	if n := s.acknowledged(); n != 0 {
		t.Errorf("%d callbacks acknowledged, want none", n)
	}
	two := signed(t, func(_ map[string]any, d []any) []any { return []any{detailCopy(d, "cap-1"), detailCopy(d, "cap-2")} })
	if status, b := s.post("capped", two, "application/json"); status != http.StatusOK {
		t.Fatalf("POST of 2 calls = %d %s", status, b)
	}
	// Once the two are stored, the refused body's third call has neither a row nor a workflow.
	s.waitWorkflow("call/capped/cap-1")
	s.waitWorkflow("call/capped/cap-2")
	s.notStarted("call/capped/cap-3")
	if n, acked := s.count("calls"), s.acknowledged(); n != 2 || acked != 1 {
		t.Errorf("calls = %d, callbacks acknowledged = %d; want the 2 calls of the one accepted", n, acked)
	}
}

// An inbox entry that cannot succeed becomes a dead letter, is listed by the admin API, and runs once
// replayed after the fix.
func TestDeadLetterIsListedAndReplayed(t *testing.T) {
	t.Parallel()
	s := start(t, options{noRelay: true}) // the test relays, and changes the sources, between passes
	doc, err := airudder.Decode(airudder.ExampleCallCompleted)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := doc.CallCompleted(airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := parsed.Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.store.AddToInbox(context.Background(), "gone", airudder.KindCallCompleted, body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.ingest.Inbox().RelayOnce(context.Background())
	if err != nil || res.Dead != 1 {
		t.Fatalf("relay = %+v, %v; want one dead letter (source gone)", res, err)
	}
	status, b := s.get("/v1/inbox?state=dead")
	var page struct {
		Entries []struct {
			ID        int64
			State     string
			LastError string `json:"last_error"`
			BodyBytes int    `json:"body_bytes"`
		}
	}
	mustUnmarshal(t, b, &page)
	if status != http.StatusOK || len(page.Entries) != 1 || page.Entries[0].ID != id || page.Entries[0].State != "dead" ||
		!strings.Contains(page.Entries[0].LastError, "no longer configured") || strings.Contains(string(b), "Sign") {
		t.Fatalf("GET /v1/inbox?state=dead = %d %s", status, b)
	}
	if status, b := s.get("/v1/inbox?state=lost"); status != http.StatusBadRequest {
		t.Errorf("unknown state = %d %s", status, b)
	}
	// The fix: the source is configured again. Then the replay runs it.
	s.cfg.Sources["gone"] = &config.Source{Name: "gone", Keys: []string{"k"}}
	if status, b := s.admin(http.MethodPost, fmt.Sprintf("/v1/inbox/%d/replay", id), nil); status != http.StatusOK {
		t.Fatalf("replay = %d %s", status, b)
	}
	if status, b := s.admin(http.MethodPost, fmt.Sprintf("/v1/inbox/%d/replay", id), nil); status != http.StatusConflict || errorCode(t, b) != "not_dead" {
		t.Errorf("second replay = %d %s, want 409 not_dead", status, b)
	}
	if res, err := s.ingest.Inbox().RelayOnce(context.Background()); err != nil || res.Done != 1 {
		t.Fatalf("relay after replay = %+v, %v", res, err)
	}
	s.waitWorkflow("call/gone/" + seedCallID)
	if n := s.count("inbox"); n != 0 {
		t.Errorf("inbox rows = %d after the replay ran", n)
	}
}
