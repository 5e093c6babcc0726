package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

// Reconcile is how a source's calls are reconciled with Airudder's records: a Temporal Schedule runs a
// reconcile workflow every Interval over the time since the source's high-water mark (less Overlap) up
// to Settle ago, in slices, and backfills every call Airudder lists that no callback brought (see
// docs/design.md: Reconciliation: backfill what never arrived). In YAML:
//
//	reconcile: {interval: 10m, window: 2h, settle: 5m}
//
// RUDDERHOOK_SOURCE_<NAME>_RECONCILE_INTERVAL sets Interval. Enable it on the one source that receives
// the callbacks of the Airudder account whose API credentials are configured: reconciling a second
// source against the same account would backfill every call there too.
type Reconcile struct {
	// Interval is how often the schedule runs; 0 (the default) turns reconciliation off.
	Interval time.Duration `yaml:"interval"`
	// Window is how far back the first run looks, before any high-water mark exists (default 2h).
	Window time.Duration `yaml:"window"`
	// Settle is how long ago a window ends: a call that ended since may still be posting its callback
	// (default 5m).
	Settle time.Duration `yaml:"settle"`
	// Overlap is how far before the high-water mark each run starts again, for records Airudder lists
	// late (default 10m).
	Overlap time.Duration `yaml:"overlap"`
	// Slice is the span one query covers at first (default 10m); a PDS slice that matches more than
	// MaxRecordsPerQuery records is halved.
	Slice time.Duration `yaml:"slice"`
	// Families are the API families reconciled: workflow (taskdetail) and pds (querytasklist,
	// querytaskdetail). Default: workflow.
	Families []string `yaml:"families"`
	// MaxRecordsPerQuery is the most records one PDS query may page through (default
	// airudder.PDSMaxRecordsPerQuery, about 50,000: Airudder's limit).
	MaxRecordsPerQuery int `yaml:"max_records_per_query"`
	// PDSTaskLookback is how long before a window PDS tasks may have started and still have calls in it
	// (querytasklist lists tasks by their start; default 24h).
	PDSTaskLookback time.Duration `yaml:"pds_task_lookback"`

	// IntervalEnv is RUDDERHOOK_SOURCE_<NAME>_RECONCILE_INTERVAL as given, read by resolve.
	IntervalEnv string `yaml:"-"`
}

// Enabled says whether the source's schedule runs.
func (r Reconcile) Enabled() bool { return r.Interval > 0 }

// Defaults of a source's reconciliation.
const (
	DefaultReconcileWindow   = 2 * time.Hour
	DefaultReconcileSettle   = 5 * time.Minute
	DefaultReconcileOverlap  = 10 * time.Minute
	DefaultReconcileSlice    = 10 * time.Minute
	DefaultPDSTaskLookback   = 24 * time.Hour
	minReconcileInterval     = time.Minute
	minReconcileSliceSeconds = 1
)

// resolve applies the environment and defaults, and says what is wrong.
func (r *Reconcile) resolve(source string) []string {
	var problems []string
	if r.IntervalEnv != "" {
		d, err := time.ParseDuration(r.IntervalEnv)
		if err != nil {
			problems = append(problems, fmt.Sprintf("RUDDERHOOK_SOURCE_%s_RECONCILE_INTERVAL: %v", envName(source), err))
		}
		r.Interval = d
	}
	defaults := []struct {
		d   *time.Duration
		def time.Duration
	}{{&r.Window, DefaultReconcileWindow}, {&r.Settle, DefaultReconcileSettle}, {&r.Overlap, DefaultReconcileOverlap},
		{&r.Slice, DefaultReconcileSlice}, {&r.PDSTaskLookback, DefaultPDSTaskLookback}}
	for _, d := range defaults {
		if *d.d == 0 {
			*d.d = d.def
		}
	}
	if r.MaxRecordsPerQuery == 0 {
		r.MaxRecordsPerQuery = airudder.PDSMaxRecordsPerQuery
	}
	if len(r.Families) == 0 {
		r.Families = []string{airudder.FamilyWorkflow}
	}
	switch {
	case r.Interval < 0 || r.Window < 0 || r.Settle < 0 || r.Overlap < 0 || r.Slice < 0 || r.PDSTaskLookback < 0 || r.MaxRecordsPerQuery < 0:
		problems = append(problems, fmt.Sprintf("source %q: reconcile: durations and max_records_per_query cannot be negative", source))
	case r.Interval > 0 && r.Interval < minReconcileInterval:
		problems = append(problems, fmt.Sprintf("source %q: reconcile: interval %s is shorter than %s", source, r.Interval, minReconcileInterval))
	case r.Slice < minReconcileSliceSeconds*time.Second:
		problems = append(problems, fmt.Sprintf("source %q: reconcile: slice must be at least a second", source))
	}
	for _, f := range r.Families {
		if f != airudder.FamilyWorkflow && f != airudder.FamilyPDS {
			problems = append(problems, fmt.Sprintf("source %q: reconcile: family %q: %s or %s", source, f, airudder.FamilyWorkflow, airudder.FamilyPDS))
		}
	}
	r.Families = slices.Compact(slices.Sorted(slices.Values(r.Families)))
	return problems
}

// ReconcileIntervals are the sources whose reconciliation is on, with its interval.
func (cfg *Config) ReconcileIntervals() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, name := range cfg.ReconcileSources() {
		out[name] = cfg.Sources[name].Reconcile.Interval
	}
	return out
}

// ReconcileSources are the sources whose reconciliation is on, by name.
func (cfg *Config) ReconcileSources() []string {
	var out []string
	for _, name := range cfg.SourceNames() {
		if cfg.Sources[name].Reconcile.Enabled() {
			out = append(out, name)
		}
	}
	return out
}
