package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	// The packages that register rudderhook's metrics, as serve and worker link them.
	_ "github.com/rudderhook/rudderhook/activities"
	_ "github.com/rudderhook/rudderhook/airudder"
	_ "github.com/rudderhook/rudderhook/api"
	_ "github.com/rudderhook/rudderhook/ingest"
)

// registered are the names of the metrics the code registers (histograms by their base name).
func registered(t *testing.T) map[string]bool {
	t.Helper()
	reg, ok := prometheus.DefaultRegisterer.(*prometheus.Registry)
	if !ok {
		t.Fatal("the default registerer is not a registry")
	}
	ch := make(chan *prometheus.Desc)
	go func() {
		reg.Describe(ch)
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\brudderhook_[a-z0-9_]+\b`)

// unknownMetrics lists the rudderhook metrics expr queries that the code does not register.
func unknownMetrics(expr string, known map[string]bool) []string {
	var unknown []string
	for _, name := range metricName.FindAllString(expr, -1) {
		base := name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && known[b] {
				base = b
			}
		}
		if !known[base] {
			unknown = append(unknown, name)
		}
	}
	return unknown
}

// dashboardQueries are the PromQL expressions of every panel of the Grafana dashboard, by panel title.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("grafana", "rudderhook.json"))
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Expr string `json:"expr"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"` // a row's, when collapsed
	}
	var dash struct {
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana/rudderhook.json: %v", err)
	}
	out := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q queries nothing", p.Title)
			}
			for _, tg := range p.Targets {
				out[p.Title] = append(out[p.Title], tg.Expr)
			}
		}
	}
	walk(dash.Panels)
	if dash.UID == "" || len(out) == 0 {
		t.Fatalf("the dashboard has uid %q and %d panels", dash.UID, len(out))
	}
	return out
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Annotations map[string]string `yaml:"annotations"`
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("prometheus/alerts.yaml: %v", err)
	}
	var rules []alertRule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatal("prometheus/alerts.yaml has no rules")
	}
	return rules
}

// Every metric the dashboard queries is one that serve or worker registers: a renamed or removed metric
// would leave a panel empty, and nobody would notice until they needed it.
func TestDashboardQueriesOnlyRegisteredMetrics(t *testing.T) {
	known := registered(t)
	used := map[string]bool{}
	for title, exprs := range dashboardQueries(t) {
		for _, e := range exprs {
			if u := unknownMetrics(e, known); len(u) > 0 {
				t.Errorf("panel %q queries %v, which the code does not register", title, u)
			}
			for _, n := range metricName.FindAllString(e, -1) {
				used[n] = true
			}
		}
	}
	for _, want := range []string{
		"rudderhook_http_request_duration_seconds_count", "rudderhook_http_request_duration_seconds_bucket",
		"rudderhook_inbox_depth", "rudderhook_inbox_oldest_seconds", "rudderhook_inbox_ack_to_start_seconds_bucket",
		"rudderhook_inbox_dead", "rudderhook_inbox_dead_letters_total", "rudderhook_follow_ups_finished_total",
		"rudderhook_follow_ups", "rudderhook_parse_notes_total", "rudderhook_airudder_api_requests_total",
		"rudderhook_callbacks_accepted_total", "rudderhook_follow_up_attempts_total",
		"rudderhook_recalls_overdue_total", "rudderhook_recalls_settled_by_asking_total", "rudderhook_backfilled_total",
		"rudderhook_reconcile_records_total", "rudderhook_recordings_archived_total",
		"rudderhook_recordings_archived_bytes_total", "rudderhook_recordings_failures_total",
	} {
		if !used[want] {
			t.Errorf("the dashboard shows nothing of %s", want)
		}
	}
}

// Every alert queries registered metrics and points at a runbook section that docs/operations.md has.
func TestAlertsQueryRegisteredMetricsAndHaveRunbooks(t *testing.T) {
	known := registered(t)
	ops, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(ops), "\n") {
		if title, ok := strings.CutPrefix(line, "### "); ok {
			anchors[githubAnchor(title)] = true
		}
	}
	for _, r := range alertRules(t) {
		if u := unknownMetrics(r.Expr, known); len(u) > 0 {
			t.Errorf("alert %s queries %v, which the code does not register", r.Alert, u)
		}
		anchor, ok := strings.CutPrefix(r.Annotations["runbook"], "docs/operations.md#")
		if !ok || !anchors[anchor] {
			t.Errorf("alert %s: runbook %q is not a section of docs/operations.md (sections: %v)", r.Alert, r.Annotations["runbook"], sortedKeys(anchors))
		}
		if !strings.Contains(string(ops), r.Alert) {
			t.Errorf("docs/operations.md does not name alert %s", r.Alert)
		}
	}
}

// The dashboard's expressions are PromQL that Prometheus parses (Grafana's interval variables set to
// values): checked with promtool, which .ci/run installs (Debian's prometheus package).
func TestDashboardExpressionsParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is missing: .ci/run installs it (apt-get install prometheus)")
		}
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); CI runs this test")
	}
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	var titles []string
	queries := dashboardQueries(t)
	for title := range queries {
		titles = append(titles, title)
	}
	slices.Sort(titles)
	n := 0
	for _, title := range titles {
		for _, e := range queries[title] {
			e = strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h", "$__interval", "1m").Replace(e)
			q, _ := json.Marshal(e) // a JSON string is a YAML string
			n++
			fmt.Fprintf(&b, "      - record: dashboard_panel_%d # %s\n        expr: %s\n", n, title, q)
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's expressions: %v\n%s\n%s", err, out, b.String())
	}
}

// githubAnchor is the anchor GitHub gives a heading.
func githubAnchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(title)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func sortedKeys(m map[string]bool) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
