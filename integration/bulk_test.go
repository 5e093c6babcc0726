package integration

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/ui"
	"github.com/rudderhook/rudderhook/workflows"
)

// bulkRulesDoc sends every call's outcome to the CRM by its own rule, and every QA result.
const bulkRulesDoc = `rules:
  - id: ptp-crm
    when: call.intention == "PTP"
    actions: [{name: task, type: webhook, target: crm}]
  - id: e-crm
    when: call.intention == "E"
    actions: [{name: mark, type: webhook, target: crm}]
  - id: qa-review
    on: qa_result
    when: "true"
    actions: [{name: review, type: webhook, target: crm}]
`

// postCall posts a variant of the example call with its own ID, intention and amount owed, with the
// source's URL token when it has one.
func (s *system) postCall(token, id, intention, owing string) {
	s.t.Helper()
	body := signed(s.t, func(_ map[string]any, details []any) []any {
		d := detailCopy(details, id)
		d["Intention"], d["TotalOwingAmount"] = intention, owing
		return []any{d}
	})
	if status, resp := s.postKind("airudder", token, airudder.KindCallCompleted, body); status != http.StatusOK {
		s.t.Fatalf("POST %s = %d %s", id, status, resp)
	}
}

// currentDetails is what a workflow's current details say, as the Temporal UI reads them.
func (s *system) currentDetails(id string) string {
	s.t.Helper()
	v, err := s.client.QueryWorkflow(context.Background(), id, "", "__temporal_workflow_metadata") // the SDK's built-in query, as the Temporal UI reads details
	if err != nil {
		s.t.Fatalf("metadata of %s: %v", id, err)
	}
	var md sdkpb.WorkflowMetadata
	if err := v.Get(&md); err != nil {
		s.t.Fatalf("metadata of %s: %v", id, err)
	}
	return md.GetCurrentDetails()
}

type bulkPlanView struct {
	ID         string `json:"plan_id"`
	Candidates int64
	Matched    int
	Sample     []struct {
		ID      int64
		RuleID  string `json:"rule_id"`
		Target  string
		Subject struct{ Key string }
	}
}

type bulkStatusView struct {
	State      string
	WorkflowID string `json:"workflow_id"`
	Progress   *workflows.BulkProgress
}

// bulk sends an admin request about bulk repair and decodes its answer.
func (s *system) bulk(method, path, body string, want int, v any) {
	s.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	status, resp := s.admin(method, path, b)
	if status != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, status, resp, want)
	}
	mustUnmarshal(s.t, resp, v)
}

// waitClosed waits for a workflow to end, however it ends.
func (s *system) waitClosed(id string) error {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := s.client.GetWorkflow(ctx, id, "").Get(ctx, nil)
	if ctx.Err() != nil {
		s.t.Fatalf("workflow %s did not end: %v", id, err)
	}
	return err
}

func (s *system) statusOf(rule, key string) string {
	s.t.Helper()
	var st string
	if err := s.db.Get(&st, `SELECT f.status FROM follow_ups f JOIN subjects s ON s.id = f.subject_id
WHERE f.rule_id = $1 AND s.subject_key = $2`, rule, key); err != nil {
		s.t.Fatalf("follow-up of %s for %s: %v", rule, key, err)
	}
	return st
}

// An operator whose CRM refused a day's follow-ups plans a bulk retry of the large promises to pay: the
// plan shows how many and which, of several failed follow-ups of calls and of an event under different
// rules; run once the CRM is fixed, it retries exactly those, which succeed, and nothing else.
func TestBulkRetryRetriesExactlyWhatItsPlanMatched(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusBadRequest))
	s := start(t, options{environ: append([]string{"RUDDERHOOK_TARGET_CRM_URL=" + crm.URL, "RUDDERHOOK_TARGET_CRM_SECRET=" + crmSecret}, eventsEnv...)})
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(bulkRulesDoc)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	s.postCall("s3cret", "P1", "PTP", "2000000.00")
	s.postCall("s3cret", "P2", "PTP", "500000.00")
	s.postCall("s3cret", "P3", "PTP", "3000000.00")
	s.postCall("s3cret", "E1", "E", "2000000.00")
	if status, body := s.postKind("airudder", "s3cret", airudder.KindQAResult, airudder.ExampleQAResult); status != http.StatusOK {
		t.Fatalf("post QA: %d %s", status, body)
	}
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE status = 'failed'`, 5)
	crm.setRespond(always(http.StatusOK))

	var plan bulkPlanView
	s.bulk(http.MethodPost, "/v1/follow-ups/retry", `{"filters": {"status": ["failed"], "kind": "call-completed"},
  "where": "call.intention == \"PTP\" && call.total_owing_amount > 1000000", "rate_per_second": 50}`, http.StatusOK, &plan)
	var keys []string
	for _, fu := range plan.Sample {
		keys = append(keys, fu.Subject.Key)
		if fu.RuleID != "ptp-crm" || fu.Target != "crm" {
			t.Errorf("sample %+v", fu)
		}
	}
	slices.Sort(keys)
	if plan.ID == "" || plan.Candidates != 4 || plan.Matched != 2 || !slices.Equal(keys, []string{"P1", "P3"}) {
		t.Fatalf("plan %+v, want the follow-ups of P1 and P3 among the 4 failed of calls", plan)
	}
	if n := len(crm.received()); n != 5 {
		t.Fatalf("the CRM got %d requests before the run, want the 5 refused", n)
	}

	var run bulkStatusView
	s.bulk(http.MethodPost, "/v1/follow-ups/retry/"+plan.ID+"/run", "", http.StatusAccepted, &run)
	if run.WorkflowID != workflows.BulkWorkflowID(plan.ID) {
		t.Errorf("run %+v", run)
	}
	if err := s.waitClosed(run.WorkflowID); err != nil {
		t.Fatalf("the run: %v", err)
	}
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE status = 'succeeded'`, 2)
	for key, want := range map[string]string{"P1": "succeeded", "P3": "succeeded", "P2": "failed"} {
		if got := s.statusOf("ptp-crm", key); got != want {
			t.Errorf("%s's CRM task is %s, want %s", key, got, want)
		}
	}
	if got := s.statusOf("e-crm", "E1"); got != "failed" {
		t.Errorf("E1's is %s, want failed", got)
	}
	if n := s.count("follow_ups WHERE rule_id = 'qa-review' AND status = 'failed'"); n != 1 {
		t.Errorf("the QA result's follow-up: %d failed, want 1", n)
	}
	got := crm.received()
	if len(got) != 7 {
		t.Fatalf("the CRM got %d requests, want 5 refused and 2 retried", len(got))
	}
	retried := []string{got[5].header.Get("webhook-id"), got[6].header.Get("webhook-id")}
	slices.Sort(retried)
	want := []string{rules.FollowUpKey("call/airudder/P1", "ptp-crm", "task"), rules.FollowUpKey("call/airudder/P3", "ptp-crm", "task")}
	slices.Sort(want)
	if !slices.Equal(retried, want) {
		t.Errorf("retried %v, want %v", retried, want)
	}

	var done bulkStatusView
	s.bulk(http.MethodGet, "/v1/bulk/"+plan.ID, "", http.StatusOK, &done)
	if done.State != "completed" || done.Progress == nil || done.Progress.Total != 2 || done.Progress.Repaired != 2 || done.Progress.Done != 2 {
		t.Errorf("status %+v %+v", done, done.Progress)
	}
	// Run again, the plan answers its run, which has ended: nothing runs again.
	var again bulkStatusView
	s.bulk(http.MethodPost, "/v1/follow-ups/retry/"+plan.ID+"/run", "", http.StatusAccepted, &again)
	if again.State != "completed" || again.WorkflowID != run.WorkflowID {
		t.Errorf("run again %+v", again)
	}
	if got := s.currentDetails(run.WorkflowID); got != "Retried 2 of 2 follow-ups" {
		t.Errorf("the run's details say %q", got)
	}
}

// A run cancelled while it works finishes the batch under way and stops there: what it retried is
// retried, the rest is left as it was, and its status says how far it got.
func TestBulkRetryStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusBadRequest))
	s := withCRM(t, crm, `rules:
  - id: six
    when: "true"
    actions:
      - {name: a1, type: webhook, target: crm}
      - {name: a2, type: webhook, target: crm}
      - {name: a3, type: webhook, target: crm}
      - {name: a4, type: webhook, target: crm}
      - {name: a5, type: webhook, target: crm}
      - {name: a6, type: webhook, target: crm}
`)
	s.postCall("", "C1", "PTP", "1000.00")
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE status = 'failed'`, 6)
	s.waitWorkflow("call/airudder/C1")
	crm.setRespond(always(http.StatusOK))

	// One a second: batches of five, the first taking four seconds.
	var plan bulkPlanView
	s.bulk(http.MethodPost, "/v1/follow-ups/retry", `{"rate_per_second": 1}`, http.StatusOK, &plan)
	if plan.Matched != 6 {
		t.Fatalf("plan %+v", plan)
	}
	var run bulkStatusView
	s.bulk(http.MethodPost, "/v1/follow-ups/retry/"+plan.ID+"/run", "", http.StatusAccepted, &run)
	// The first batch is under way once its first retry has changed a follow-up (it takes four seconds more).
	for deadline := time.Now().Add(30 * time.Second); s.count("follow_ups WHERE status <> 'failed'") == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run retried nothing")
		}
	}
	var cancelling bulkStatusView
	s.bulk(http.MethodPost, "/v1/bulk/"+plan.ID+"/cancel", "", http.StatusAccepted, &cancelling)
	var cancelled *temporal.CanceledError
	if err := s.waitClosed(run.WorkflowID); !errors.As(err, &cancelled) {
		t.Fatalf("the run ended with %v, want cancelled", err)
	}
	var st bulkStatusView
	s.bulk(http.MethodGet, "/v1/bulk/"+plan.ID, "", http.StatusOK, &st)
	if st.State != "cancelled" || st.Progress == nil || st.Progress.Done != 5 || st.Progress.Repaired != 5 || !st.Progress.Cancelled {
		t.Fatalf("status %+v %+v, want cancelled after the first batch of 5", st, st.Progress)
	}
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE status = 'succeeded'`, 5)
	if n := s.count("follow_ups WHERE status = 'failed'"); n != 1 {
		t.Errorf("%d follow-ups still failed, want the one after the batch", n)
	}
	if got := s.currentDetails(run.WorkflowID); got != "Retried 5 of 6 follow-ups; cancelled after 5, 1 left as they were" {
		t.Errorf("the run's details say %q", got)
	}
	// Cancelling what ended changes nothing.
	var after bulkStatusView
	s.bulk(http.MethodPost, "/v1/bulk/"+plan.ID+"/cancel", "", http.StatusAccepted, &after)
	if after.State != "cancelled" {
		t.Errorf("cancel again: %+v", after)
	}
}

// Dead letters are replayed by filter, plan first: the run makes due again exactly those the plan
// matched, and the relay then starts them; the others stay dead.
func TestBulkReplayReplaysDeadLettersByFilter(t *testing.T) {
	t.Parallel()
	s := start(t, options{noRelay: true}) // the test relays, to see each pass's result
	ctx := context.Background()
	add := func(source, callID string) {
		doc, err := airudder.Decode(signed(t, func(_ map[string]any, details []any) []any { return []any{detailCopy(details, callID)} }))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := doc.CallCompleted(airudder.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		body, err := parsed.Unsigned()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.store.AddToInbox(ctx, source, airudder.KindCallCompleted, body, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	add("gone", "G1")
	add("gone", "G2")
	add("lost", "L1")
	if res, err := s.ingest.Inbox().RelayOnce(ctx); err != nil || res.Dead != 3 {
		t.Fatalf("relay = %+v, %v; want three dead letters (sources not configured)", res, err)
	}
	s.cfg.Sources["gone"] = &config.Source{Name: "gone", Keys: []string{"k"}} // the fix, for one source

	var plan struct {
		bulkPlanView
		ByKind []struct {
			Source string
			Count  int
		} `json:"by_kind"`
	}
	s.bulk(http.MethodPost, "/v1/inbox/replay", `{"filters": {"source": "gone", "error_contains": "NO LONGER CONFIGURED"}}`, http.StatusOK, &plan)
	if plan.Matched != 2 || plan.Candidates != 2 || len(plan.ByKind) != 1 || plan.ByKind[0].Source != "gone" || plan.ByKind[0].Count != 2 {
		t.Fatalf("plan %+v", plan)
	}
	var run bulkStatusView
	s.bulk(http.MethodPost, "/v1/inbox/replay/"+plan.ID+"/run", "", http.StatusAccepted, &run)
	if err := s.waitClosed(run.WorkflowID); err != nil {
		t.Fatal(err)
	}
	if n := s.count("inbox WHERE state = 'pending' AND source = 'gone'"); n != 2 {
		t.Errorf("%d of gone's pending after the run, want 2", n)
	}
	if n := s.count("inbox WHERE state = 'dead' AND source = 'lost'"); n != 1 {
		t.Errorf("%d of lost's dead, want 1: it did not match", n)
	}
	if res, err := s.ingest.Inbox().RelayOnce(ctx); err != nil || res.Done != 2 {
		t.Fatalf("relay after the run = %+v, %v", res, err)
	}
	s.waitWorkflow("call/gone/G1")
	s.waitWorkflow("call/gone/G2")
	var st bulkStatusView
	s.bulk(http.MethodGet, "/v1/bulk/"+plan.ID, "", http.StatusOK, &st)
	if st.State != "completed" || st.Progress == nil || st.Progress.Repaired != 2 {
		t.Errorf("status %+v", st)
	}
	if !strings.HasPrefix(st.WorkflowID, "bulk/bp_") {
		t.Errorf("workflow %q", st.WorkflowID)
	}
}

// An editor retries from the rules page: she plans, runs the plan, and the page shows the run; the
// follow-up succeeds against the fixed CRM.
func TestRepairPageRunsAnEditorsPlan(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusBadRequest))
	s := start(t, options{environ: []string{"RUDDERHOOK_TARGET_CRM_URL=" + crm.URL, "RUDDERHOOK_TARGET_CRM_SECRET=" + crmSecret,
		"RUDDERHOOK_USERS=Ana:editor:" + ui.HashToken(anaToken), "RUDDERHOOK_SESSION_KEY=" + strings.Repeat("s", 32)}})
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(bulkRulesDoc)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	s.postCall("", "P1", "PTP", "2000000.00")
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE status = 'failed'`, 1)
	crm.setRespond(always(http.StatusOK))

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := func(path string, v url.Values) (*http.Response, string) {
		resp, err := browser.PostForm(s.http.URL+path, v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	get := func(path string) string {
		resp, err := browser.Get(s.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if resp, body := form("/ui/login", url.Values{"token": {anaToken}, "next": {"/ui/repair"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in = %d %s", resp.StatusCode, body)
	}
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(get("/ui/repair"))
	if m == nil {
		t.Fatal("no CSRF token")
	}
	csrf := m[1]
	resp, body := form("/ui/repair/plan", url.Values{"csrf": {csrf}, "failed": {"1"}, "where": {`call.total_owing_amount > 1000000`}})
	plan := regexp.MustCompile(`name="plan_id" value="(bp_[0-9a-f]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || plan == nil || !strings.Contains(body, `<strong id="plan-matched">1</strong>`) {
		t.Fatalf("plan = %d %s", resp.StatusCode, body)
	}
	resp, body = form("/ui/repair/run", url.Values{"csrf": {csrf}, "plan_id": {plan[1]}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/repair?plan="+plan[1] {
		t.Fatalf("run = %d %s", resp.StatusCode, body)
	}
	if err := s.waitClosed(workflows.BulkWorkflowID(plan[1])); err != nil {
		t.Fatal(err)
	}
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE status = 'succeeded'`, 1)
	if page := get("/ui/repair?plan=" + plan[1]); !strings.Contains(page, `class="state-completed">completed</span>`) ||
		!strings.Contains(page, `<dd id="progress-repaired">1</dd>`) || !strings.Contains(page, "planned by <strong>Ana</strong>") {
		t.Errorf("the run's page:\n%s", page)
	}
}
