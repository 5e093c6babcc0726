package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
)

// Load posts n signed callbacks with distinct call IDs at the given concurrency and counts what the
// receiver refused.
func TestLoadPostsSignedDistinctCallbacks(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var cb struct {
			TaskID, Sign string
			Details      []struct{ CallID string }
		}
		if json.Unmarshal(body, &cb) != nil || airudder.VerifySign(cb.TaskID, cb.Sign, []string{"k"}) != nil || len(cb.Details) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		ids[cb.Details[0].CallID]++
		refuse := len(ids) == 3
		mu.Unlock()
		if refuse {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("{}"))
	}))
	defer srv.Close()

	r, err := Load(context.Background(), srv.URL, "k", 50, 4)
	if err == nil || r.N != 49 || r.Errors != 1 {
		t.Fatalf("Load = %+v, %v; want 49 acks, 1 refused, and the refusal's error", r, err)
	}
	if len(ids) != 50 {
		t.Errorf("%d distinct call IDs reached the receiver, want 50", len(ids))
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("call %s posted %d times", id, n)
		}
	}
	if r.PerSec <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
		t.Errorf("rate and latencies not measured: %+v", r)
	}
	if _, err := Load(context.Background(), srv.URL, "wrong key", 5, 2); err == nil {
		t.Error("Load with the wrong key: no error, want the receiver's 401")
	}
}
