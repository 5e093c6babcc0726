package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// target is a stand-in for a CRM or a team channel: it records every request and answers with the status
// that respond gives for the n-th request (1-based).
type target struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
	respond  func(n int) int
}

type recorded struct {
	header http.Header
	body   []byte
}

func newTarget(t *testing.T, respond func(n int) int) *target {
	t.Helper()
	tg := &target{respond: respond}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.requests = append(tg.requests, recorded{header: r.Header.Clone(), body: body})
		n := len(tg.requests)
		respond := tg.respond
		tg.mu.Unlock()
		status := http.StatusOK
		if respond != nil {
			status = respond(n)
		}
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1") // keeps the test short; the action honours it
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) received() []recorded {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]recorded(nil), tg.requests...)
}

// setRespond changes the answers from now on.
func (tg *target) setRespond(respond func(n int) int) {
	tg.mu.Lock()
	tg.respond = respond
	tg.mu.Unlock()
}

func always(status int) func(int) int { return func(int) int { return status } }
