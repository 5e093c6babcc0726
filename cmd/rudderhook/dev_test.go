package main

import (
	"net/netip"
	"slices"
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
