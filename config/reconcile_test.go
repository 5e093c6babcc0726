package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/config"
)

// TestReconcileIsOffByDefaultAndReadFromFileAndEnvironment: no source reconciles unless told; the file's
// reconcile: block and RUDDERHOOK_SOURCE_<NAME>_RECONCILE_INTERVAL set it, with defaults for the rest.
func TestReconcileIsOffByDefaultAndReadFromFileAndEnvironment(t *testing.T) {
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Sources["airudder"].Reconcile; r.Enabled() || len(cfg.ReconcileSources()) != 0 || cfg.ExpectationsSweep != 5*time.Minute {
		t.Errorf("defaults: %+v, sweep %s", r, cfg.ExpectationsSweep)
	}
	path := filepath.Join(t.TempDir(), "rudderhook.yaml")
	doc := "sources:\n  shop:\n    keys: [k]\n    reconcile: {interval: 10m, window: 3h, families: [pds, workflow]}\n  other:\n    keys: [k]\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load([]string{"RUDDERHOOK_SOURCE_OTHER_RECONCILE_INTERVAL=1h"}, path)
	if err != nil {
		t.Fatal(err)
	}
	shop := cfg.Sources["shop"].Reconcile
	if shop.Interval != 10*time.Minute || shop.Window != 3*time.Hour || shop.Settle != config.DefaultReconcileSettle ||
		shop.Slice != config.DefaultReconcileSlice || strings.Join(shop.Families, ",") != "pds,workflow" || shop.MaxRecordsPerQuery != 50000 {
		t.Errorf("shop: %+v", shop)
	}
	if other := cfg.Sources["other"].Reconcile; other.Interval != time.Hour || strings.Join(other.Families, ",") != "workflow" {
		t.Errorf("other: %+v", other)
	}
	if got := strings.Join(cfg.ReconcileSources(), ","); got != "other,shop" {
		t.Errorf("reconciled sources %s", got)
	}
	for _, bad := range []string{"RUDDERHOOK_SOURCE_AIRUDDER_RECONCILE_INTERVAL=soon", "RUDDERHOOK_SOURCE_AIRUDDER_RECONCILE_INTERVAL=10s"} {
		if _, err := config.Load([]string{bad}, ""); err == nil {
			t.Errorf("%s was taken", bad)
		}
	}
}
