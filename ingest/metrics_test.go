package ingest_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rudderhook/rudderhook/ingest"
)

// A configured source has its accepted-callbacks series from the start, at 0, so that the alert on a
// source gone quiet fires in a process that has received nothing from it.
func TestConfiguredSourcesAreExportedBeforeTheirFirstCallback(t *testing.T) {
	ingest.ExportSources([]string{"quiet-source"})
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "rudderhook_callbacks_accepted_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["source"] == "quiet-source" {
				paths[labels["path"]] = m.GetCounter().GetValue()
			}
		}
	}
	if v, ok := paths["inbox"]; len(paths) != 2 || !ok || v != 0 || paths["temporal"] != 0 {
		t.Errorf("series of quiet-source: %v, want inbox and temporal at 0", paths)
	}
}
