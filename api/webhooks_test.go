package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
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
		"/webhooks/acme/s3cret/list-completed":       "invalid_payload", // a call completion is not a list completion
		"/webhooks/acme/s3cret/waba-status":          "unknown_callback",
	} {
		if _, code := post(h, target, "192.0.2.1:1", ""); code != want {
			t.Errorf("%s: %s, want %s", target, code, want)
		}
	}
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := t.TempDir() + "/rudderhook.yaml"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return "RUDDERHOOK_CONFIG=" + path
}

// On a source with a URL token, the token says who posts: the rate is charged before the body (here with
// a wrong Sign), a wrong token is not charged, and one source's budget is not another's.
func TestRateLimitPerSource(t *testing.T) {
	h := refusals(t, writeConfig(t, "sources:\n  acme:\n    keys: [wrong-key]\n    token: s3cret\n    rate_per_second: 0.001\n    burst: 2\n"+
		"  other:\n    keys: [wrong-key]\n    token: s3cret\n"))
	for range 5 {
		if _, code := post(h, "/webhooks/acme/guess/call-completed", "192.0.2.1:1", ""); code != "invalid_token" {
			t.Fatalf("a wrong token: %s", code)
		}
	}
	var codes []string
	for range 3 {
		_, code := post(h, "/webhooks/acme/s3cret/call-completed", "192.0.2.1:1", "")
		codes = append(codes, code)
	}
	if codes[0] != "invalid_signature" || codes[1] != "invalid_signature" || codes[2] != "rate_limited" {
		t.Errorf("acme: %v, want two through and the third limited", codes)
	}
	if _, code := post(h, "/webhooks/other/s3cret/call-completed", "192.0.2.1:1", ""); code != "invalid_signature" {
		t.Errorf("other source limited by acme's budget: %s", code)
	}
}

// receiver is a whole receiver in inbox mode on a fresh database (no Temporal: the inbox takes what is
// accepted).
func receiver(t *testing.T, environ ...string) http.Handler {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	cfg, err := config.Load(append([]string{"RUDDERHOOK_ACK=inbox"}, environ...), "")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	s := &Server{Sources: cfg.Sources, Log: log, TrustedProxies: []string{"10.0.0.0/8"},
		Ingest: &ingest.Service{Store: store.New(storetest.DB(t)), Sources: cfg.Sources, Log: log}}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// On a source without a token only the Sign says who posts, so the rate is charged after the Sign: a
// flood of bodies with a wrong Sign does not spend the real sender's budget. What bounds the flood is
// its own address's budget of refusals (the source's rate and burst, per client address).
func TestRateChargedAfterTheSign(t *testing.T) {
	t.Parallel()
	h := receiver(t, writeConfig(t, "sources:\n  acme:\n    keys: [airudder]\n    rate_per_second: 0.001\n    burst: 2\n"))
	const url = "/webhooks/acme/call-completed"
	junk, err := airudder.Resign(airudder.ExampleCallCompleted, "not-acme's-key")
	if err != nil {
		t.Fatal(err)
	}
	postFrom := func(remote string, body []byte) (int, string) {
		req := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out errorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out.Error.Code
	}
	var flood []string
	for range 6 {
		_, code := postFrom("198.51.100.66:1", junk)
		flood = append(flood, code)
	}
	if !slices.Equal(flood, []string{"invalid_signature", "invalid_signature", "rate_limited", "rate_limited", "rate_limited", "rate_limited"}) {
		t.Errorf("a flood with a wrong Sign from one address: %v, want two refused for the Sign, then limited before the body", flood)
	}
	for i := range 2 {
		if status, code := postFrom("203.0.113.5:1", airudder.ExampleCallCompleted); status != http.StatusOK {
			t.Fatalf("the real sender's callback %d after the flood: %d %s, want 200", i+1, status, code)
		}
	}
	if status, code := postFrom("203.0.113.5:1", airudder.ExampleCallCompleted); status != http.StatusTooManyRequests || code != "rate_limited" {
		t.Errorf("the real sender past its burst of 2: %d %s, want 429", status, code)
	}
}

func TestUnknownCallbackKindAndRoutes(t *testing.T) {
	h := refusals(t)
	if status, code := post(h, "/webhooks/airudder/waba-status", "192.0.2.1:1", ""); status != 404 || code != "unknown_callback" {
		t.Errorf("unknown kind: %d %s", status, code)
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

func postBody(h http.Handler, target string, body []byte) (int, errorBody) {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.1:1"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// Every kind is refused, before anything is stored, for the reasons that fit it: a wrong or missing Sign
// where the kind is signed, no token or allowlist where it is not, a generic kind the source does not
// list, and a body that is not the kind's envelope (naming what is wrong).
func TestEveryKindRefusesBadInput(t *testing.T) {
	path := t.TempDir() + "/rudderhook.yaml"
	if err := os.WriteFile(path, []byte(`sources:
  open:
    keys: [other-key]
  guarded:
    keys: [airudder]
    token: s3cret
    kinds: [{name: waba-status, key_fields: [message.id]}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := refusals(t, "RUDDERHOOK_CONFIG="+path)
	for _, k := range airudder.Kinds() {
		for _, ex := range k.Examples {
			name := k.Route + "/" + ex.Name
			if k.Signed {
				// The examples are signed for "airudder": source open has another key.
				if status, body := postBody(h, "/webhooks/open/"+k.Route, ex.Body); status != 401 || body.Error.Code != "invalid_signature" {
					t.Errorf("%s, wrong key: %d %s", name, status, body.Error.Code)
				}
				var fields map[string]any
				_ = json.Unmarshal(ex.Body, &fields)
				delete(fields, "Sign")
				unsigned, _ := json.Marshal(fields)
				if status, body := postBody(h, "/webhooks/open/"+k.Route, unsigned); status != 401 || body.Error.Code != "missing_signature" {
					t.Errorf("%s, no Sign: %d %s", name, status, body.Error.Code)
				}
			} else {
				status, body := postBody(h, "/webhooks/open/"+k.Route, ex.Body)
				if status != 403 || body.Error.Code != "unsigned_kind_not_allowed" || !bytes.Contains([]byte(body.Error.Message), []byte("RUDDERHOOK_SOURCE_OPEN_TOKEN")) {
					t.Errorf("%s, unsigned on a source without token or allowlist: %d %+v", name, status, body.Error)
				}
			}
			if status, body := postBody(h, "/webhooks/guarded/"+k.Route, ex.Body); status != 401 || body.Error.Code != "invalid_token" {
				t.Errorf("%s, no token: %d %s", name, status, body.Error.Code)
			}
		}
		// Not the kind's envelope: an empty object (signed kinds get past the Sign with one for "airudder").
		envelope := []byte(`{}`)
		if k.Signed {
			envelope = []byte(`{"TaskID":"t1","Sign":"` + airudder.Sign("t1", airudder.DefaultKey) + `"}`)
		}
		status, body := postBody(h, "/webhooks/guarded/s3cret/"+k.Route, envelope)
		if status != 422 || body.Error.Code != "invalid_payload" || len(body.Error.Fields) == 0 {
			t.Errorf("%s, not its envelope: %d %+v", k.Route, status, body.Error)
		}
	}
	if status, body := postBody(h, "/webhooks/open/waba-status", []byte(`{}`)); status != 404 || body.Error.Code != "unknown_callback" {
		t.Errorf("a generic kind the source does not list: %d %s", status, body.Error.Code)
	}
	if status, body := postBody(h, "/webhooks/guarded/s3cret/waba-status", []byte(`[1]`)); status != 422 && status != 400 {
		t.Errorf("a generic kind's body that is not an object: %d %s", status, body.Error.Code)
	}
}

// writeThenRead sends a whole request, head and body, on a new connection before it reads anything, as
// some senders do, and returns the answer's status and error code.
func writeThenRead(t *testing.T, addr, head string, body []byte) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := conn.Write(append([]byte(head), body...)); err != nil {
		t.Fatalf("writing the request: %v (the receiver closed the connection before the sender could read its answer)", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	var out errorBody
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("reading the answer's body (status %d): %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out.Error.Code
}

// A sender that writes its whole body before it reads the answer reads the refusal of a body that is too
// large (by its Content-Length, or found while reading a chunked body) or holds too many calls, a 4xx it
// will not retry, not a reset connection, which it would retry for ever.
func TestRefusalsReadableBySendersThatWriteFirst(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(refusals(t)) // the default source: 2 MiB, 100 calls a body
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	const path = "/webhooks/airudder/call-completed"
	big := bytes.Repeat([]byte(" "), 8<<20)

	t.Run("Content-Length over the limit", func(t *testing.T) {
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, len(big))
		if status, code := writeThenRead(t, addr, head, big); status != http.StatusRequestEntityTooLarge || code != "body_too_large" {
			t.Errorf("%d %s, want 413 body_too_large", status, code)
		}
	})
	t.Run("chunked over the limit", func(t *testing.T) {
		var chunked bytes.Buffer
		w := httputil.NewChunkedWriter(&chunked)
		for part := range slices.Chunk(big, 64<<10) {
			_, _ = w.Write(part)
		}
		_ = w.Close()
		chunked.WriteString("\r\n")
		head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
		if status, code := writeThenRead(t, addr, head, chunked.Bytes()); status != http.StatusRequestEntityTooLarge || code != "body_too_large" {
			t.Errorf("%d %s, want 413 body_too_large", status, code)
		}
	})
	t.Run("too many calls", func(t *testing.T) {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(airudder.ExampleCallCompleted, &doc); err != nil {
			t.Fatal(err)
		}
		details := make([]string, 3000)
		for i := range details {
			details[i] = fmt.Sprintf(`{"CallID": "call-%05d", "Comments": %q}`, i, strings.Repeat("x", 500))
		}
		doc["Details"] = json.RawMessage("[" + strings.Join(details, ",") + "]")
		body, _ := json.Marshal(doc) // the Sign covers the TaskID only: still right
		if len(body) > 2<<20 {
			t.Fatalf("the body (%d bytes) should be within the limit", len(body))
		}
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, len(body))
		if status, code := writeThenRead(t, addr, head, body); status != http.StatusRequestEntityTooLarge || code != "too_many_calls" {
			t.Errorf("%d %s, want 413 too_many_calls", status, code)
		}
	})
	t.Run("Expect: 100-continue", func(t *testing.T) {
		// A sender that waits to be told to continue is answered at once, and sends nothing.
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, len(big))
		if status, code := writeThenRead(t, addr, head, nil); status != http.StatusRequestEntityTooLarge || code != "body_too_large" {
			t.Errorf("%d %s, want 413 body_too_large (and no 100 Continue)", status, code)
		}
	})
}

// The admin dry run reads at most 2 MiB: a larger body is refused (413) before it is read whole, let
// alone compiled as rules.
func TestDryRunBodyLimit(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	const token = "an-admin-token-of-32-characters-at-least"
	s := &Server{Log: slog.New(slog.DiscardHandler), AdminToken: token}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"rules": strings.Repeat("# a long comment\n", 200_000)})
	req := httptest.NewRequest(http.MethodPost, "/v1/rules/dry-run", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	if rec.Code != http.StatusRequestEntityTooLarge || out.Error.Code != "body_too_large" {
		t.Errorf("a dry run of %d bytes: %d %s, want 413 body_too_large", len(body), rec.Code, rec.Body)
	}
}
