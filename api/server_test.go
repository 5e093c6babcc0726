package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// countLog counts the records logged with one message.
type countLog struct {
	msg string
	n   *atomic.Int64
}

func (h countLog) Enabled(context.Context, slog.Level) bool { return true }
func (h countLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countLog) WithGroup(string) slog.Handler      { return h }

// readyServer serves /readyz with a real PostgreSQL and a Temporal that is down (nothing listens on its
// port), so that every check logs "readiness: Temporal unreachable" once: the count of those lines is the
// count of checks.
func readyServer(t *testing.T, ttl time.Duration) (http.Handler, *atomic.Int64) {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	temporal, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(temporal.Close)
	checks := new(atomic.Int64)
	s := &Server{Store: store.New(storetest.DB(t)), Temporal: temporal, readyTTL: ttl,
		Log: slog.New(countLog{msg: "readiness: Temporal unreachable", n: checks})}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	return h, checks
}

func getReady(t *testing.T, h http.Handler) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var out struct {
		Ready, Degraded bool
		Checks          map[string]string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); rec.Code != http.StatusOK || err != nil || !out.Ready || !out.Degraded ||
		out.Checks["postgres"] != "ok" || out.Checks["temporal"] != "unreachable" {
		t.Errorf("GET /readyz = %d %s", rec.Code, rec.Body)
	}
}

// A flood of /readyz, at once and one after another, asks PostgreSQL and Temporal once while the answer
// is fresh; once it is not, the next probe checks again.
func TestReadyzChecksOncePerTTL(t *testing.T) {
	t.Parallel()
	h, checks := readyServer(t, time.Hour)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { getReady(t, h) })
	}
	wg.Wait()
	for range 10 {
		getReady(t, h)
	}
	if n := checks.Load(); n != 1 {
		t.Errorf("60 probes within the TTL checked %d times, want 1", n)
	}

	h, checks = readyServer(t, time.Nanosecond)
	for range 3 {
		getReady(t, h)
	}
	if n := checks.Load(); n != 3 {
		t.Errorf("3 probes each after the TTL checked %d times, want 3", n)
	}
}
