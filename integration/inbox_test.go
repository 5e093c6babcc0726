package integration

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// unreachableTemporal is a client for a Temporal frontend that is not there.
func unreachableTemporal(t *testing.T) client.Client {
	t.Helper()
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// With Temporal down, a callback that temporal mode cannot start is kept in the inbox (200 {} all the
// same) until the relay hands it over.
func TestTemporalDownCallbackWaitsInInboxThenRuns(t *testing.T) {
	t.Parallel()
	s := start(t, options{noRelay: true, environ: []string{"RUDDERHOOK_ACK=temporal"}})
	s.serve(&ingest.Service{Temporal: unreachableTemporal(t), Store: s.store, Sources: s.cfg.Sources,
		Log: testLogger(t), StartTimeout: 300 * time.Millisecond})

	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK || string(body) != "{}" {
		t.Fatalf("POST with Temporal down = %d %s, want 200 {} (kept in the inbox)", status, body)
	}
	if inbox, calls := s.count("inbox"), s.count("calls"); inbox != 1 || calls != 0 {
		t.Fatalf("inbox, calls = %d, %d; want 1, 0", inbox, calls)
	}
	// Still ready: the inbox takes callbacks, so a load balancer must keep sending them here.
	// It also says how far behind the relay is.
	if status, body := s.get("/readyz"); status != http.StatusOK || !strings.Contains(string(body), `"degraded":true`) ||
		!strings.Contains(string(body), `"pending":1`) {
		t.Errorf("readyz with Temporal down = %d %s", status, body)
	}

	// Temporal is back: the relay hands the callback over and the call runs as if it had come directly.
	res, err := s.ingest.Inbox().RelayOnce(context.Background())
	if err != nil || res.Done != 1 {
		t.Fatalf("relay = %+v, %v", res, err)
	}
	s.waitWorkflow("call/airudder/" + seedCallID)
	if inbox, calls := s.count("inbox"), s.count("calls"); inbox != 0 || calls != 1 {
		t.Errorf("after relay inbox, calls = %d, %d; want 0, 1", inbox, calls)
	}
	rec, err := s.store.GetCall(context.Background(), "airudder", seedCallID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ReceivedAt.After(time.Now()) || time.Since(rec.ReceivedAt) > time.Minute {
		t.Errorf("received_at = %v: want the time the callback arrived", rec.ReceivedAt)
	}
}

func TestNothingDurableAnswers503(t *testing.T) {
	t.Parallel()
	s := start(t, options{noWorker: true})
	closed := storetest.DB(t)
	_ = closed.Close()
	s.serve(&ingest.Service{Temporal: unreachableTemporal(t), Store: store.New(closed), Sources: s.cfg.Sources,
		Log: testLogger(t), StartTimeout: 300 * time.Millisecond})

	req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/airudder/call-completed", bytes.NewReader(airudder.ExampleCallCompleted))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Retry-After") == "" {
		t.Error("a 503 without Retry-After")
	}
	status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json")
	if status != http.StatusServiceUnavailable || errorCode(t, body) != "unavailable" {
		t.Errorf("POST with nothing durable = %d %s, want 503 unavailable", status, body)
	}
	// It says which part is down, and nothing of the errors (hosts, users) to an unauthenticated caller.
	status, body = s.get("/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), `"postgres":"unreachable"`) ||
		!strings.Contains(string(body), `"temporal":"unreachable"`) || strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("readyz with nothing durable = %d %s", status, body)
	}
}
