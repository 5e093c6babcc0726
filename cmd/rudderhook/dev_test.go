package main

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
	printBanner(&out, cfg, "127.0.0.1:8080", &embeddedTemporal{FrontendAddr: "127.0.0.1:7233", DBPath: "temporal.db"}, banner{generated: true})
	if !strings.Contains(out.String(), "rule URLs and targets may reach loopback, for local testing (dev only") {
		t.Errorf("the banner does not say that follow-ups may reach loopback:\n%s", out.String())
	}
}
