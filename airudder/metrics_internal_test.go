package airudder

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every request to Airudder's API counts under its operation and outcome: an operator alerts on the
// ones that are not ok.
func TestAPIRequestsAreCountedByOutcome(t *testing.T) {
	var createStatus int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case WorkflowAuthPath:
			_, _ = w.Write([]byte(`{"code": 200, "message": "success", "data": {"token": "tok"}}`))
		default:
			w.WriteHeader(createStatus)
			_, _ = w.Write([]byte(`{"code": 10001, "message": "no such template"}`))
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "key", "secret", srv.Client())
	count := func(op, outcome string) float64 {
		return testutil.ToFloat64(apiRequestsTotal.WithLabelValues(op, outcome))
	}
	before := map[string]float64{"auth ok": count("auth", "ok"), "retryable": count("uploaddetails", "retryable"),
		"refused": count("uploaddetails", "refused")}

	createStatus = http.StatusServiceUnavailable
	if _, err := c.UploadDetails(context.Background(), "wf", nil); err == nil {
		t.Fatal("a 503 was taken for success")
	}
	createStatus = http.StatusOK // an Airudder code that refuses the request
	if _, err := c.UploadDetails(context.Background(), "wf", nil); err == nil {
		t.Fatal("code 10001 was taken for success")
	}
	for _, c := range []struct {
		what, op, outcome string
		want              float64
	}{
		{"auth ok", "auth", "ok", 1},
		{"retryable", "uploaddetails", "retryable", 1},
		{"refused", "uploaddetails", "refused", 1},
	} {
		if got := count(c.op, c.outcome) - before[c.what]; got != c.want {
			t.Errorf("rudderhook_airudder_api_requests_total{op=%q,outcome=%q} grew by %v, want %v", c.op, c.outcome, got, c.want)
		}
	}
}
