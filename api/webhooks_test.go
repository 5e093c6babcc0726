package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
)

// refusals builds a receiver for the layers that refuse a callback before it reaches ingest; it has no
// Temporal or database behind it, so any request that got through would fail the test with a panic.
func refusals(t *testing.T, environ ...string) http.Handler {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	cfg, err := config.Load(environ, "")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Sources: cfg.Sources, Log: slog.New(slog.DiscardHandler), TrustedProxies: []string{"10.0.0.0/8"}}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func post(h http.Handler, target, remote, forwardedFor string) (int, string) {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(airudder.ExampleCallCompleted))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = remote
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body.Error.Code
}

func TestAllowlistUsesTrustedProxiesOnly(t *testing.T) {
	h := refusals(t, "RUDDERHOOK_SOURCE_ACME_KEYS=wrong-key", "RUDDERHOOK_SOURCE_ACME_ALLOW_IPS=203.0.113.0/24")
	const url = "/webhooks/acme/call-completed"
	for _, tc := range []struct {
		name, remote, xff string
		status            int
		code              string
	}{
		// Allowed addresses get as far as the Sign check (the key is wrong on purpose).
		{"allowed directly", "203.0.113.9:5555", "", 401, "invalid_signature"},
		{"allowed through a trusted proxy", "10.1.2.3:5555", "203.0.113.9", 401, "invalid_signature"},
		{"outside the list", "198.51.100.1:5555", "", 403, "forbidden"},
		{"spoofed header from an untrusted peer", "198.51.100.1:5555", "203.0.113.9", 403, "forbidden"},
	} {
		if status, code := post(h, url, tc.remote, tc.xff); status != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, code, tc.status, tc.code)
		}
	}
}

func TestURLToken(t *testing.T) {
	h := refusals(t, "RUDDERHOOK_SOURCE_ACME_KEYS=wrong-key", "RUDDERHOOK_SOURCE_ACME_TOKEN=s3cret")
	for target, want := range map[string]string{
		"/webhooks/acme/call-completed":              "invalid_token",
		"/webhooks/acme/call-completed?token=guess":  "invalid_token",
		"/webhooks/acme/call-completed?token=s3cret": "invalid_signature", // past the token, stopped by the Sign
		"/webhooks/acme/s3cret/call-completed":       "invalid_signature", // the token in the path
		"/webhooks/acme/guess/call-completed":        "invalid_token",
		"/webhooks/acme/s3cret/list-completed":       "unknown_callback",
	} {
		if _, code := post(h, target, "192.0.2.1:1", ""); code != want {
			t.Errorf("%s: %s, want %s", target, code, want)
		}
	}
}

func TestRateLimitPerSource(t *testing.T) {
	path := t.TempDir() + "/rudderhook.yaml"
	if err := os.WriteFile(path, []byte("sources:\n  acme:\n    keys: [wrong-key]\n    rate_per_second: 0.001\n    burst: 2\n  other:\n    keys: [wrong-key]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := refusals(t, "RUDDERHOOK_CONFIG="+path)
	var codes []string
	for range 3 {
		_, code := post(h, "/webhooks/acme/call-completed", "192.0.2.1:1", "")
		codes = append(codes, code)
	}
	if codes[0] != "invalid_signature" || codes[1] != "invalid_signature" || codes[2] != "rate_limited" {
		t.Errorf("acme: %v, want two through and the third limited", codes)
	}
	if _, code := post(h, "/webhooks/other/call-completed", "192.0.2.1:1", ""); code != "invalid_signature" {
		t.Errorf("other source limited by acme's budget: %s", code)
	}
}

func TestUnknownCallbackKindAndRoutes(t *testing.T) {
	h := refusals(t)
	if status, code := post(h, "/webhooks/airudder/list-completed", "192.0.2.1:1", ""); status != 404 || code != "unknown_callback" {
		t.Errorf("other kind: %d %s", status, code)
	}
	if status, code := post(h, "/nowhere", "192.0.2.1:1", ""); status != 404 || code != "not_found" {
		t.Errorf("no route: %d %s", status, code)
	}
	req := httptest.NewRequest(http.MethodGet, "/webhooks/airudder/call-completed", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET on the receiver: %d", rec.Code)
	}
}
