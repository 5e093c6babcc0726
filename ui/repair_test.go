package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/repair"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/ui"
)

// failedReminder stores a call and its reminder as a failed follow-up, planned by the rules in force.
func failedReminder(t *testing.T, p *page, key, intention string) {
	t.Helper()
	ctx := context.Background()
	storeCall(t, p.store, key, intention, time.Now().AddDate(0, 0, 3).Format(time.DateOnly), time.Now())
	subj, err := p.store.SubjectByWorkflowID(ctx, "call/airudder/"+key)
	if err != nil {
		t.Fatal(err)
	}
	fu := rules.FollowUp{Key: rules.FollowUpKey(subj.WorkflowID, "promise-to-pay-reminder", "reminder"), RuleID: "promise-to-pay-reminder",
		RuleVersion: 1, Action: "reminder", Type: rules.TypeNotify, Notify: &rules.NotifyRequest{Target: "team_channel", Text: "Remind"}}
	recs, err := p.store.InsertFollowUps(ctx, subj.ID, []store.FollowUpRecord{{Key: fu.Key, RuleID: fu.RuleID, RuleVersion: 1, Action: fu.Action,
		Type: fu.Type, Plan: fu, Status: rules.StatusScheduled}})
	if err != nil {
		t.Fatal(err)
	}
	msg := "team_channel answered HTTP 404"
	if err := p.store.UpdateFollowUp(ctx, recs[0].Key, store.FollowUpUpdate{Status: rules.StatusFailed, LastError: &msg}); err != nil {
		t.Fatal(err)
	}
}

var planIDRE = regexp.MustCompile(`name="plan_id" value="(bp_[0-9a-f]+)"`)

// An editor picks failed follow-ups on the repair page — with a condition written as in rules — sees the
// plan (how many, which, where they go) and a button that runs it; a condition that does not compile is
// shown on the form. A viewer sees the page but cannot plan or run; forms need the session's CSRF token.
func TestRepairPageShowsEditorsThePlan(t *testing.T) {
	t.Parallel()
	p := newPage(t, func(s *ui.Server) { s.Repair = &repair.Service{Store: s.Store, Log: s.Log} })
	failedReminder(t, p, "ptp-1", "Promise To Pay")
	failedReminder(t, p, "nfu-1", "Needs Follow Up")
	form := url.Values{"failed": {"1"}, "rule_id": {"promise-to-pay-reminder"}, "where": {`call.intention_description == "Promise To Pay"`},
		"limit": {"100"}, "rate_per_second": {"5"}}

	p.signIn(viewerToken)
	csrf := p.csrf()
	resp, body := p.do(http.MethodGet, "/ui/repair", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="viewers-only-look"`) || strings.Contains(body, `id="repair-form"`) {
		t.Errorf("a viewer's repair page = %d\n%s", resp.StatusCode, body)
	}
	form.Set("csrf", csrf)
	if resp, _ := p.form("/ui/repair/plan", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer plans: %d", resp.StatusCode)
	}
	if resp, _ := p.form("/ui/repair/run", url.Values{"csrf": {csrf}, "plan_id": {"bp_00000000000000000000"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer runs: %d", resp.StatusCode)
	}

	p.signIn(editorToken)
	csrf = p.csrf()
	if _, body := p.do(http.MethodGet, "/ui/repair", nil, nil); !strings.Contains(body, `id="repair-form"`) || !strings.Contains(body, `<option value="promise-to-pay-reminder">`) {
		t.Errorf("the editor's form:\n%s", body)
	}
	form.Set("csrf", "forged")
	if resp, _ := p.form("/ui/repair/plan", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a plan with a wrong CSRF token = %d", resp.StatusCode)
	}
	form.Set("csrf", csrf)
	resp, body = p.form("/ui/repair/plan", form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<strong id="plan-matched">1</strong>`) ||
		!strings.Contains(body, "<td>team_channel</td>") || !strings.Contains(body, "team_channel answered HTTP 404") ||
		!strings.Contains(body, "Retry these 1 follow-ups") || !strings.Contains(body, "5 a second") {
		t.Fatalf("the plan = %d\n%s", resp.StatusCode, body)
	}
	m := planIDRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no plan to run")
	}
	plan, err := p.store.GetBulkPlan(context.Background(), m[1])
	if err != nil || plan.Matched != 1 || plan.CreatedBy != "Ana" {
		t.Errorf("the plan kept: %+v (%v)", plan, err)
	}
	if _, body := p.do(http.MethodGet, "/ui/repair?plan="+m[1], nil, nil); !strings.Contains(body, `<span id="run-state" class="state-planned">planned</span>`) {
		t.Errorf("the plan's page:\n%s", body)
	}

	form.Set("where", `call.intension == "PTP"`)
	resp, body = p.form("/ui/repair/plan", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="repair-problem"`) || !strings.Contains(body, "did you mean call.intention?") ||
		!strings.Contains(body, `call.intension == &#34;PTP&#34;`) {
		t.Errorf("a misspelt condition = %d\n%s", resp.StatusCode, body)
	}
	form.Del("failed")
	if resp, body := p.form("/ui/repair/plan", form); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "tick failed") {
		t.Errorf("no status = %d", resp.StatusCode)
	}
	if resp, _ := p.form("/ui/repair/run", url.Values{"csrf": {csrf}, "plan_id": {"x"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("run of no plan = %d", resp.StatusCode)
	}
	if _, err := p.store.DB().Exec(`UPDATE bulk_plans SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if resp, body := p.form("/ui/repair/run", url.Values{"csrf": {csrf}, "plan_id": {m[1]}}); resp.StatusCode != http.StatusGone || !strings.Contains(body, "expired") {
		t.Errorf("run of an expired plan = %d", resp.StatusCode)
	}
}
