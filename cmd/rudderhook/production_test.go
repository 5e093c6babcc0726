package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/config"
)

// serve and worker refuse, before they reach PostgreSQL or Temporal, a source on Airudder's public default
// key and a secret still holding deploy/'s placeholder, saying each; dev runs with them and says so.
func TestServeAndWorkerRefuseThePublicKeyAndPlaceholders(t *testing.T) {
	t.Setenv("RUDDERHOOK_CONFIG", "")
	// Nothing listens there: today's serve and worker got this far and failed to connect instead.
	t.Setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2")
	t.Setenv("RUDDERHOOK_ADMIN_TOKEN", strings.Repeat("a1", 32))
	t.Setenv("RUDDERHOOK_SESSION_KEY", "CHANGE-ME-TO-64-HEX-DIGITS-FROM-OPENSSL-RAND") // long enough to pass Load
	for _, command := range []string{"serve", "worker"} {
		root := rootCmd()
		root.SetArgs([]string{command})
		err := root.Execute()
		var pe *config.ProductionError
		if !errors.As(err, &pe) || string(pe.Process) != command || len(pe.Problems) != 2 ||
			!strings.Contains(pe.Problems[0], `source "airudder" accepts Airudder's default Sign key`) ||
			!strings.Contains(pe.Problems[1], "RUDDERHOOK_SESSION_KEY is still a placeholder") {
			t.Errorf("%s: %v; want the default key and the session key refused", command, err)
		}
	}
}

func TestDevBannerSaysItRunsWithDevConveniences(t *testing.T) {
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminToken = randomToken()
	var out bytes.Buffer
	printBanner(&out, banner{cfg: cfg, httpAddr: "127.0.0.1:8080", temporal: &embeddedTemporal{FrontendAddr: "127.0.0.1:7233"},
		generatedToken: true, notForProduction: cfg.ProductionProblems(config.Serve)})
	for _, want := range []string{
		"Dev only", "tokens generated when unset", "serve and worker would refuse this configuration:",
		`- source "airudder" accepts Airudder's default Sign key "airudder"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the banner does not say %q:\n%s", want, out.String())
		}
	}
}
