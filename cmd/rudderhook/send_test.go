package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
)

// received is one request the fake receiver took.
type received struct {
	path string
	body []byte
}

// receiver is a fake rudderhook that records what send posts and answers status.
func receiver(t *testing.T, status int) (*httptest.Server, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.URL.RequestURI(), b})
		mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("User-Agent") != "Airudder" {
			t.Errorf("headers %v", r.Header)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received { mu.Lock(); defer mu.Unlock(); return append([]received(nil), got...) }
}

func runSend(t *testing.T, args ...string) error {
	t.Helper()
	cmd := sendCmd()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.ExecuteContext(context.Background())
}

func TestSendKinds(t *testing.T) {
	srv, got := receiver(t, http.StatusOK)
	// The default URL is the receiver's: point it at the fake with --url for each kind, and check the path
	// form of the default URL separately below.
	for _, k := range airudder.Kinds() {
		if err := runSend(t, "--kind", k.Route, "--key", "k2", "--url", srv.URL+"/webhooks/acme/"+k.Route); err != nil {
			t.Fatalf("%s: %v", k.Route, err)
		}
	}
	reqs := got()
	if len(reqs) != 9 { // pds posts its three examples
		t.Fatalf("%d requests, want 9", len(reqs))
	}
	for _, r := range reqs {
		route := r.path[strings.LastIndex(r.path, "/")+1:]
		k, _ := airudder.KindByRoute(route)
		doc, err := airudder.Decode(r.body)
		if err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		taskID, sign := doc.Signed()
		if err := airudder.VerifySign(taskID, sign, []string{"k2"}); (err == nil) != k.Signed {
			t.Errorf("%s: signed %v, Sign for key k2: %v", route, k.Signed, err)
		}
	}
}

func TestSendURLs(t *testing.T) {
	srv, got := receiver(t, http.StatusOK)
	if err := runSend(t, "--url", srv.URL+"/in", "--token", "s3cr/t", "--kind", "qa-result"); err != nil {
		t.Fatal(err)
	}
	if p := got()[0].path; p != "/in?token=s3cr%2Ft" {
		t.Errorf("path %q", p)
	}
	// A generic kind needs a FILE, posted as it is.
	file := filepath.Join(t.TempDir(), "waba.json")
	if err := os.WriteFile(file, []byte(`{"message":{"id":"m1"},"Sign":"kept"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runSend(t, "--kind", "waba-message-status", "--url", srv.URL+"/w", file); err != nil {
		t.Fatal(err)
	}
	if b := got()[1].body; string(b) != `{"message":{"id":"m1"},"Sign":"kept"}` {
		t.Errorf("generic body changed: %s", b)
	}
	for _, args := range [][]string{{"--kind", "waba-message-status"}, {"--kind", "Nope", file}} {
		err := runSend(t, append(args, "--url", srv.URL)...)
		if err == nil || !strings.Contains(err.Error(), strings.Join(airudder.KindRoutes(), ", ")) {
			t.Errorf("%v: err = %v, want the kinds listed", args, err)
		}
	}
}

func TestSendURL(t *testing.T) {
	for _, tc := range []struct{ target, source, token, route, want string }{
		{"", "airudder", "", "call-completed", "http://127.0.0.1:8080/webhooks/airudder/call-completed"},
		{"", "acme", "tok/1", "pds", "http://127.0.0.1:8080/webhooks/acme/tok%2F1/pds"},
		{"https://r.example/webhooks/acme/qa-result?x=1", "ignored", "t", "qa-result", "https://r.example/webhooks/acme/qa-result?token=t&x=1"},
		{"https://r.example/in", "ignored", "", "pds", "https://r.example/in"},
	} {
		if got, err := receiverURL(tc.target, tc.source, tc.token, tc.route); err != nil || got != tc.want {
			t.Errorf("receiverURL(%q, %q, %q, %q) = %q, %v; want %q", tc.target, tc.source, tc.token, tc.route, got, err, tc.want)
		}
	}
}

func TestSendFailsWhenRefused(t *testing.T) {
	srv, got := receiver(t, http.StatusUnprocessableEntity)
	err := runSend(t, "--kind", "pds", "--url", srv.URL)
	if len(got()) != 3 || err == nil || !strings.Contains(err.Error(), "pds.task_status, pds.contact_status, pds.agent_status") {
		t.Errorf("%d requests, err = %v", len(got()), err)
	}
}
