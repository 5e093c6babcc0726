package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/config"
)

// A source that accepts Airudder's public default key, and every secret setting still holding deploy/'s
// placeholder, are refused for serve and worker, each named with how to fix it and never with its value;
// serve also wants an admin token. All the problems come at once.
func TestProductionRefusesTheDefaultKeyAndPlaceholders(t *testing.T) {
	good := strings.Repeat("5e", 32)
	load := func(environ ...string) *config.Config {
		t.Helper()
		cfg, err := config.Load(environ, "")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	// The built-in configuration (the built-in source "airudder" with key "airudder", no admin token).
	cfg := load()
	for p, want := range map[config.Process][]string{
		config.Serve:  {`source "airudder" accepts Airudder's default Sign key "airudder"`, "RUDDERHOOK_ADMIN_TOKEN is not set"},
		config.Worker: {`source "airudder" accepts Airudder's default Sign key "airudder"`},
	} {
		err := cfg.CheckProduction(p)
		var pe *config.ProductionError
		if !errors.As(err, &pe) || len(pe.Problems) != len(want) {
			t.Fatalf("%s: %v; want %d problems", p, err, len(want))
		}
		for i, w := range want {
			if !strings.Contains(pe.Problems[i], w) {
				t.Errorf("%s: problem %d = %q, want %q", p, i, pe.Problems[i], w)
			}
		}
		if !strings.Contains(err.Error(), "RUDDERHOOK_SOURCE_AIRUDDER_KEYS") || !strings.Contains(err.Error(), "\n  - ") {
			t.Errorf("%s: the error says neither how to fix it nor one problem a line:\n%v", p, err)
		}
	}

	// Every secret setting holding a placeholder, in either case and inside a longer value.
	placeholdered := []string{
		"RUDDERHOOK_ADMIN_TOKEN=CHANGE-ME",
		"RUDDERHOOK_SESSION_KEY=CHANGE-ME-TO-64-HEX-DIGITS-FROM-OPENSSL-RAND",
		"DATABASE_URL=postgres://rudderhook:CHANGE-ME@db.internal:5432/rudderhook",
		"TEMPORAL_API_KEY=change-me",
		"RUDDERHOOK_PAYLOAD_KEYS=k1:CHANGE-ME",
		"AIRUDDER_APP_KEY=CHANGE-ME", "AIRUDDER_APP_SECRET=CHANGE-ME",
		"AIRUDDER_PDS_APP_KEY=CHANGE-ME", "AIRUDDER_PDS_APP_SECRET=CHANGE-ME",
		"RUDDERHOOK_SOURCE_ACME_KEYS=" + good + ",CHANGE-ME", "RUDDERHOOK_SOURCE_ACME_TOKEN=CHANGE-ME",
		"RUDDERHOOK_TARGET_CRM_URL=https://crm.example/hooks/CHANGE-ME", "RUDDERHOOK_TARGET_CRM_SECRET=whsec_CHANGE-ME",
	}
	settings := []string{"RUDDERHOOK_ADMIN_TOKEN", "RUDDERHOOK_SESSION_KEY", "DATABASE_URL", "TEMPORAL_API_KEY", "RUDDERHOOK_PAYLOAD_KEYS",
		"AIRUDDER_APP_KEY", "AIRUDDER_APP_SECRET", "AIRUDDER_PDS_APP_KEY", "AIRUDDER_PDS_APP_SECRET",
		`source "acme": a Sign key`, `source "acme": the URL token`, `target "crm": the secret`, `target "crm": the URL`}
	cfg = load(placeholdered...)
	for _, p := range []config.Process{config.Serve, config.Worker} {
		problems := cfg.ProductionProblems(p)
		if len(problems) != len(settings) {
			t.Errorf("%s: %d problems, want %d:\n%s", p, len(problems), len(settings), strings.Join(problems, "\n"))
		}
		all := strings.Join(problems, "\n")
		for _, s := range settings {
			if !strings.Contains(all, s+" is still a placeholder of deploy/") {
				t.Errorf("%s: %s not refused:\n%s", p, s, all)
			}
		}
		if strings.Contains(all, good) || strings.Contains(all, "db.internal") {
			t.Errorf("%s: a problem repeats a secret's value:\n%s", p, all)
		}
	}

	// The same settings with real values: nothing to refuse.
	var real []string
	for _, kv := range placeholdered {
		real = append(real, strings.NewReplacer("CHANGE-ME", good, "change-me", good).Replace(kv))
	}
	cfg = load(real...)
	for _, p := range []config.Process{config.Serve, config.Worker} {
		if err := cfg.CheckProduction(p); err != nil {
			t.Errorf("%s with real secrets: %v", p, err)
		}
	}
	// The worker needs no admin token; serve refuses one too short.
	if err := load("RUDDERHOOK_SOURCE_ACME_KEYS=" + good).CheckProduction(config.Worker); err != nil {
		t.Errorf("worker without an admin token: %v", err)
	}
	if err := load("RUDDERHOOK_SOURCE_ACME_KEYS="+good, "RUDDERHOOK_ADMIN_TOKEN=short").CheckProduction(config.Serve); err == nil ||
		!strings.Contains(err.Error(), "at least 32") {
		t.Errorf("serve with a short admin token: %v", err)
	}
	// A source that still lists the default key beside its own (mid-rotation) is refused too.
	if err := load("RUDDERHOOK_SOURCE_ACME_KEYS=" + good + ",airudder").CheckProduction(config.Worker); err == nil {
		t.Error("worker with a source that also takes the default key: no error")
	}
}

func TestIsPlaceholder(t *testing.T) {
	for v, want := range map[string]bool{
		"CHANGE-ME": true, "change-me": true, "CHANGE-ME-TO-64-HEX-DIGITS-FROM-OPENSSL-RAND": true, "x:CHANGE-ME@y": true,
		"": false, "changeme-not": false, strings.Repeat("ab", 32): false,
	} {
		if got := config.IsPlaceholder(v); got != want {
			t.Errorf("IsPlaceholder(%q) = %v, want %v", v, got, want)
		}
	}
}
