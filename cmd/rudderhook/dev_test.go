package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/config"
)

// dev on a loopback address lets a source that names no token or allowlist take callbacks from this
// machine only; a source that names one, dev on another address, and dev behind proxies are left alone.
func TestDevAllowsLoopbackOnlyWhereNothingElseSaysWhoMayPost(t *testing.T) {
	load := func(environ ...string) *config.Config {
		t.Helper()
		cfg, err := config.Load(append(environ, "RUDDERHOOK_SOURCE_OPEN_KEYS=k", "RUDDERHOOK_SOURCE_TOKENED_KEYS=k", "RUDDERHOOK_SOURCE_TOKENED_TOKEN=t0ken"), "")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := load()
	if got := allowLoopback(cfg, "127.0.0.1:8080"); !slices.Equal(got, []string{"open"}) {
		t.Fatalf("sources given the loopback allowlist: %v", got)
	}
	src := cfg.Sources["open"]
	if !src.TakesUnsigned() || !slices.Contains(src.AllowedNets, netip.MustParsePrefix("127.0.0.1/32")) || len(cfg.Sources["tokened"].AllowIPs) != 0 {
		t.Errorf("open allows %v, tokened allows %v", src.AllowedNets, cfg.Sources["tokened"].AllowIPs)
	}
	for _, c := range []struct {
		addr    string
		environ []string
	}{
		{"0.0.0.0:8080", nil},
		{"10.1.2.3:8080", nil},
		{"127.0.0.1:8080", []string{"RUDDERHOOK_TRUSTED_PROXIES=10.0.0.0/8"}},
	} {
		cfg := load(c.environ...)
		if got := allowLoopback(cfg, c.addr); len(got) != 0 || cfg.Sources["open"].TakesUnsigned() {
			t.Errorf("%s %v: loopback allowlist given to %v", c.addr, c.environ, got)
		}
	}
	if got := allowLoopback(load(), "localhost:8080"); len(got) != 1 {
		t.Errorf("localhost: %v", got)
	}
}

// dev lets rule URLs and targets reach loopback, for local testing, and its banner says so; its sink
// takes the targets nobody configured, on loopback even when dev listens on every address.
func TestDevLetsFollowUpsReachLoopbackAndSaysSo(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	doc := "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: webhook, target: crm}, {type: notify, url: 'http://127.0.0.1:9000/hook', text: hi}]\n"
	if err := os.WriteFile(rulesFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RuleURLs().AllowLoopback {
		t.Fatal("rule URLs may reach loopback without dev")
	}
	cfg.HTTPAddr, cfg.RulesFile = "0.0.0.0:8080", rulesFile
	devOutbound(cfg)
	sinkTargets(cfg, slog.New(slog.DiscardHandler))
	if !cfg.RuleURLs().AllowLoopback || cfg.RuleURLs().AllowPrivate {
		t.Errorf("dev's rule URLs: %+v", cfg.RuleURLs())
	}
	crm := cfg.Targets["crm"]
	if crm == nil || crm.URL != "http://127.0.0.1:8080/dev/sink/crm" || crm.Policy(cfg.RuleURLs()).CheckURL(crm.URL) != nil {
		t.Fatalf("the sink target: %+v", crm)
	}
	var out strings.Builder
	printBanner(&out, banner{cfg: cfg, httpAddr: "127.0.0.1:8080", temporal: &embeddedTemporal{FrontendAddr: "127.0.0.1:7233", DBPath: "temporal.db"}, generatedToken: true})
	if !strings.Contains(out.String(), "rule URLs and targets may reach loopback, for local testing (dev only") {
		t.Errorf("the banner does not say that follow-ups may reach loopback:\n%s", out.String())
	}
}

// On a machine where no PostgreSQL answers at DATABASE_URL's default and the user set none, dev runs its
// own under --data/postgres: it migrates it, stores the callbacks it is sent, stops it when dev stops,
// and the next dev finds the calls of the last. The default here is a port nothing listens on, as on a
// laptop without a server (or where the system's is stopped): the system's cluster is not used.
func TestDevRunsAPrivatePostgreSQLWhenNoneAnswers(t *testing.T) {
	dataDir := reachableTempDir(t)
	nothing := "postgres://postgres@" + unusedAddr(t) + "/rudderhook?sslmode=disable"
	const token = "dev-test-admin-token"
	const callID = "cad907xxxxxxxx35644a" // the example callback's
	run := func() (stop func(), httpAddr, pgLine string) {
		t.Helper()
		cfg, err := config.Load([]string{"RUDDERHOOK_ADMIN_TOKEN=" + token}, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg.DatabaseURL = nothing // as if defaulted: DatabaseURLSet stays false
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		errc := make(chan error, 1)
		go func() {
			errc <- runDev(ctx, cfg, testLogger(t), devFlags{httpAddr: "127.0.0.1:0", temporalAddr: "127.0.0.1:0", dataDir: dataDir}, out)
		}()
		stop = func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("dev: %v", err)
			}
		}
		receiverRE := regexp.MustCompile(`Receiver +POST http://([^/]+)/webhooks/`)
		pgRE := regexp.MustCompile(`PostgreSQL +(\S+)\n +(.*);\n +(.*)\n`)
		for deadline := time.Now().Add(3 * time.Minute); ; {
			text := out.String()
			if m, p := receiverRE.FindStringSubmatch(text), pgRE.FindStringSubmatch(text); m != nil && p != nil && strings.Contains(text, "Try:") {
				t.Log(text)
				return stop, m[1], p[0]
			}
			select {
			case err := <-errc:
				t.Fatalf("dev ended before its banner: %v\n%s", err, text)
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("no banner after 3 minutes:\n%s", text)
			}
		}
	}
	getCall := func(httpAddr string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/v1/calls/"+callID, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}

	stop, httpAddr, pgLine := run()
	for _, want := range []string{"private PostgreSQL", filepath.Join(dataDir, "postgres", "data"), "started by dev"} {
		if !strings.Contains(pgLine, want) {
			t.Errorf("the banner's PostgreSQL lines lack %q:\n%s", want, pgLine)
		}
	}
	if strings.Contains(pgLine, ":5432/") || strings.Contains(pgLine, nothing[strings.Index(nothing, "@")+1:]) {
		t.Errorf("dev used the default server: %s", pgLine)
	}
	send := rootCmd()
	send.SetArgs([]string{"send", "--url", "http://" + httpAddr + "/webhooks/airudder/call-completed"})
	if err := send.ExecuteContext(context.Background()); err != nil {
		stop()
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); getCall(httpAddr) != http.StatusOK; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			t.Fatal("the call sent was not stored within a minute")
		}
	}
	stop()
	pgAddr := regexp.MustCompile(`@(127\.0\.0\.1:\d+)/`).FindStringSubmatch(pgLine)
	if pgAddr == nil {
		t.Fatalf("no address in %q", pgLine)
	}
	if conn, err := net.Dial("tcp", pgAddr[1]); err == nil {
		_ = conn.Close()
		t.Errorf("the private PostgreSQL still listens at %s after dev stopped", pgAddr[1])
	}

	stop, httpAddr, pgLine2 := run()
	defer stop()
	if status := getCall(httpAddr); status != http.StatusOK {
		t.Errorf("after a restart GET /v1/calls/%s = %d: the private PostgreSQL lost its data", callID, status)
	}
	if !strings.Contains(pgLine2, pgAddr[1]) {
		t.Errorf("the restarted PostgreSQL moved from %s: %s", pgAddr[1], pgLine2)
	}
}

// reachableTempDir is a temporary directory that the OS user of a private PostgreSQL can enter when the
// tests run as root (t.TempDir's are closed to others).
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rudderhook-dev-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// unusedAddr is a loopback address nothing listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// syncBuffer is a buffer that dev writes its banner to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
