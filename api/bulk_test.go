package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// bulkRules plan, for calls: a CRM task for every promise to pay, a re-call for large ones, a hook to a
// URL (with its secret in the path and query) for intention E; and for QA results, a message to the team.
const bulkRules = `rules:
  - id: ptp-crm
    when: call.intention == "PTP"
    actions: [{name: task, type: webhook, target: crm}]
  - id: ptp-recall
    when: call.intention == "PTP" && call.total_owing_amount > 4000000
    actions: [{name: recall, type: airudder_recall, workflow_id: wf-1}]
  - id: hook
    when: call.intention == "E"
    actions: [{name: hook, type: webhook, url: "https://hooks.example.com/services/T0/s3cr3t?token=abc"}]
  - id: qa-review
    on: qa_result
    when: "true"
    actions: [{name: review, type: notify, target: team, text: "QA {{ .event.task_id }}"}]
`

// bulkSystem is the admin API on a database holding subjects and their follow-ups, planned by
// bulkRules, in the statuses given: what a bulk repair's plan is made from. It has no Temporal: plans
// need none.
type bulkSystem struct {
	t       *testing.T
	h       http.Handler
	store   *store.Store
	byKey   map[string]store.FollowUpRecord // follow-ups by subject key and rule: "A/ptp-crm"
	checker validator.Validator
}

func newBulkSystem(t *testing.T) *bulkSystem {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	ctx := context.Background()
	st := store.New(storetest.DB(t))
	set, err := rules.Compile([]byte(bulkRules), rules.Options{Targets: map[string]bool{"crm": true, "team": true}})
	if err != nil {
		t.Fatal(err)
	}
	rs, _, err := st.SaveRuleSet(ctx, set.Digest, bulkRules, store.RuleSetChange{Origin: "api"})
	if err != nil {
		t.Fatal(err)
	}
	set.Version = rs.Version
	b := &bulkSystem{t: t, store: st, byKey: map[string]store.FollowUpRecord{}}
	now := time.Now()
	call := func(key, intention, owing string) airudder.Subject {
		rc := airudder.ExampleCalls("airudder", now)[0]
		rc.Key, rc.Call.CallID, rc.Call.Intention = key, key, intention
		d, err := airudder.ParseAmount(owing, ".", ",")
		if err != nil {
			t.Fatal(err)
		}
		rc.Call.TotalOwingAmount = &d
		return airudder.CallSubject(rc)
	}
	qa, err := airudder.ReadExampleEvent(airudder.KindQAResult, airudder.ExampleQAResult, "airudder", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []struct {
		subj     airudder.Subject
		statuses []rules.Status // of its follow-ups, in the order planned
	}{
		{call("A", "PTP", "2000000.00"), []rules.Status{rules.StatusFailed}},
		{call("B", "PTP", "500000.00"), []rules.Status{rules.StatusFailed}},
		{call("C", "E", "3000000.00"), []rules.Status{rules.StatusFailed}},
		{call("D", "PTP", "5000000.00"), []rules.Status{rules.StatusSucceeded, rules.StatusNeedsReview}},
		{airudder.EventSubject(qa), []rules.Status{rules.StatusFailed}},
	} {
		wf := "call/airudder/" + sub.subj.Key()
		if !sub.subj.IsCall() {
			wf = "event/airudder/qa-result/" + sub.subj.Key()
		}
		stored, err := st.StoreRevision(ctx, sub.subj, wf, true)
		if err != nil {
			t.Fatal(err)
		}
		plan := set.PlanSubject(sub.subj, wf, now)
		if len(plan.FollowUps) != len(sub.statuses) {
			t.Fatalf("%s planned %+v", wf, plan)
		}
		var recs []store.FollowUpRecord
		for _, fu := range plan.FollowUps {
			recs = append(recs, store.FollowUpRecord{Key: fu.Key, RuleID: fu.RuleID, RuleVersion: fu.RuleVersion, Action: fu.Action, Type: fu.Type,
				Summary: fu.Summary, CalleeNumber: fu.CalleeNumber, Plan: fu, Status: rules.StatusScheduled})
		}
		recs, err = st.InsertFollowUps(ctx, stored.SubjectID, recs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			msg := "HTTP 503 from the target"
			if err := st.UpdateFollowUp(ctx, r.Key, store.FollowUpUpdate{Status: sub.statuses[i], CountAttempt: true, LastError: &msg}); err != nil {
				t.Fatal(err)
			}
			got, _ := st.GetFollowUp(ctx, r.ID)
			b.byKey[sub.subj.Key()+"/"+r.RuleID] = *got
		}
	}
	s := &Server{Store: st, Log: slog.New(slog.DiscardHandler), AdminToken: "t"}
	if b.h, err = s.Handler(); err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	if b.checker, errs = validator.NewValidator(doc); len(errs) > 0 {
		t.Fatal(errs)
	}
	return b
}

// do sends an admin request and checks the answer (and an accepted request) against api/openapi.json.
func (b *bulkSystem) do(method, path, body string) (int, []byte) {
	b.t.Helper()
	newReq := func() *http.Request {
		r := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer t")
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		return r
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, newReq())
	resp := &http.Response{StatusCode: rec.Code, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Request: newReq()}
	if ok, errs := b.checker.ValidateHttpResponse(newReq(), resp); !ok {
		for _, e := range errs {
			b.t.Errorf("openapi: %s %s → %d %.300s: %s %s", method, path, rec.Code, rec.Body.Bytes(), e.Message, e.Reason)
		}
	}
	if rec.Code < 300 {
		if ok, errs := b.checker.ValidateHttpRequest(newReq()); !ok {
			for _, e := range errs {
				b.t.Errorf("openapi: %s %s (accepted): %s %s", method, path, e.Message, e.Reason)
			}
		}
	}
	return rec.Code, rec.Body.Bytes()
}

type retryPlanView struct {
	ID         string `json:"plan_id"`
	Candidates int64
	Examined   int
	Matched    int
	More       bool
	Sample     []struct {
		ID        int64
		Status    string
		RuleID    string `json:"rule_id"`
		Type      string
		Target    string
		LastError string `json:"last_error"`
		Subject   struct {
			Key, Kind, Summary string
		}
	}
	ByTarget []struct {
		Type, Target string
		Count        int
	} `json:"by_target"`
	Estimated float64 `json:"estimated_seconds"`
}

func (b *bulkSystem) plan(body string) retryPlanView {
	b.t.Helper()
	status, got := b.do(http.MethodPost, "/v1/follow-ups/retry", body)
	var p retryPlanView
	if err := json.Unmarshal(got, &p); status != http.StatusOK || err != nil {
		b.t.Fatalf("plan %s = %d %s", body, status, got)
	}
	return p
}

// A plan selects with the listing's filters and a condition over the subject as rules write it, oldest
// first up to its limit, and shows how many, a sample with each subject in a line, and where the retries
// would go — a URL by its host only.
func TestBulkRetryPlanSelectsByFiltersAndCondition(t *testing.T) {
	t.Parallel()
	b := newBulkSystem(t)

	// By default the failed ones: the CRM tasks of A and B, the hook of C and the QA message. The hook's
	// URL shows as its host only: its path and query hold its secret.
	if _, body := b.do(http.MethodPost, "/v1/follow-ups/retry", `{}`); strings.Contains(string(body), "s3cr3t") || strings.Contains(string(body), "token=") {
		t.Errorf("the plan shows a URL's secret: %s", body)
	}
	all := b.plan(`{}`)
	if all.ID == "" || all.Candidates != 4 || all.Examined != 4 || all.Matched != 4 || all.More || all.Estimated != 0.4 {
		t.Errorf("failed follow-ups: %+v", all)
	}
	for _, s := range all.Sample {
		if s.Status != "failed" || s.LastError == "" || s.Subject.Summary == "" {
			t.Errorf("sample %+v", s)
		}
		if s.Subject.Key == "C" && (s.Target != "hooks.example.com" || strings.Contains(s.Subject.Summary, "+86xxxxxxxx721")) {
			t.Errorf("the hook's sample %+v: want its URL's host only and the number masked", s)
		}
	}

	// Promises to pay above a million: A's CRM task; D's re-call only when needs_review is asked for.
	const large = `"where": "call.intention == \"PTP\" && call.total_owing_amount > 1000000"`
	p := b.plan(`{` + large + `}`)
	if p.Matched != 1 || p.Examined != 4 || len(p.Sample) != 1 || p.Sample[0].ID != b.byKey["A/ptp-crm"].ID || p.Sample[0].Target != "crm" ||
		p.Sample[0].Subject.Key != "A" || len(p.ByTarget) != 1 || p.ByTarget[0].Count != 1 {
		t.Errorf("large promises, failed: %+v", p)
	}
	p = b.plan(`{"filters": {"status": ["failed", "needs_review"]}, ` + large + `}`)
	if p.Matched != 2 || p.Candidates != 5 || len(p.ByTarget) != 2 || p.ByTarget[0].Target == p.ByTarget[1].Target {
		t.Errorf("large promises, failed or needing review: %+v", p)
	}
	for _, tc := range p.ByTarget {
		if (tc.Type == rules.TypeAirudderRecall) != (tc.Target == "Airudder") || tc.Count != 1 {
			t.Errorf("by target %+v", p.ByTarget)
		}
	}

	// A condition over event reads the events of the filters; one over call never matches them.
	p = b.plan(`{"filters": {"kind": "qa-result"}, "where": "event.recordings > 0"}`)
	if p.Matched != 1 || p.Sample[0].ID != b.byKey[p.Sample[0].Subject.Key+"/qa-review"].ID || p.Sample[0].Subject.Kind != airudder.KindQAResult {
		t.Errorf("QA results with recordings: %+v", p)
	}
	if p := b.plan(`{"where": "call.intention != \"\""}`); p.Matched != 3 {
		t.Errorf("a condition over call matched %d, want the three calls' failed follow-ups", p.Matched)
	}

	// Filters and a limit: the oldest first, and more to plan after.
	p = b.plan(`{"filters": {"rule_id": "ptp-crm", "type": "webhook", "source": "airudder", "kind": "call-completed"}, "limit": 1}`)
	if p.Matched != 1 || !p.More || p.Candidates != 2 || p.Sample[0].ID != b.byKey["A/ptp-crm"].ID {
		t.Errorf("one of the CRM tasks: %+v", p)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if p := b.plan(`{"filters": {"created_after": "` + future + `"}}`); p.Matched != 0 || p.ID != "" {
		t.Errorf("planned in the future: %+v, want nothing and no plan to run", p)
	}
	// The listing takes the time range too.
	if status, body := b.do(http.MethodGet, "/v1/follow-ups?created_after="+future, ""); status != http.StatusOK || !strings.Contains(string(body), `"follow_ups":[]`) {
		t.Errorf("listing since the future = %d %s", status, body)
	}
}

func errCode(t *testing.T, body []byte) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not an error body: %s", body)
	}
	return e.Error.Code
}

// What cannot be planned as asked is refused with the reason: a condition that does not compile (422
// invalid_condition, with the field meant), fails on a subject (422 condition_failed) or costs too much
// (422 condition_too_costly); a status that cannot be retried, a misspelt filter, a limit or rate out of
// bounds (400).
func TestBulkRetryPlanRefusesWhatCannotBePlanned(t *testing.T) {
	t.Parallel()
	b := newBulkSystem(t)
	nums := make([]string, 100)
	for i := range nums {
		nums[i] = strconv.Itoa(i)
	}
	list := "[" + strings.Join(nums, ",") + "]"
	costly := list + ".all(a, " + list + ".all(b, " + list + ".all(c, a + b + c >= 0)))"
	for _, tc := range []struct {
		body, code, says string
		status           int
	}{
		{`{"where": "call.intension == \"PTP\""}`, "invalid_condition", "did you mean call.intention?", 422},
		{`{"where": "call.intention = \"PTP\""}`, "invalid_condition", "column", 422},
		{`{"where": "event.stat == \"x\"", "filters": {"kind": "qa-result"}}`, "invalid_condition", "qa_result", 422},
		{`{"where": "call.variables[\"absent\"] == \"x\""}`, "condition_failed", "absent", 422},
		{`{"where": "` + costly + ` && call.intention == \"PTP\""}`, "condition_too_costly", "cost", 422},
		{`{"filters": {"status": ["succeeded"]}}`, "invalid_parameter", "cannot be retried", 400},
		{`{"filter": {"rule_id": "ptp-crm"}}`, "invalid_request", "unknown field", 400},
		{`{"limit": 20000}`, "invalid_parameter", "limit", 400},
		{`{"rate_per_second": 1000}`, "invalid_parameter", "rate_per_second", 400},
		{`{"filters": {"created_after": "2024-03-02T00:00:00Z", "created_before": "2024-03-01T00:00:00Z"}}`, "invalid_parameter", "before", 400},
		{``, "invalid_request", "JSON", 400},
	} {
		status, body := b.do(http.MethodPost, "/v1/follow-ups/retry", tc.body)
		if status != tc.status || errCode(t, body) != tc.code || !strings.Contains(string(body), tc.says) {
			t.Errorf("%.60s = %d %s, want %d %s saying %q", tc.body, status, body, tc.status, tc.code, tc.says)
		}
	}
}

// A plan runs only as what it is, before it expires; its status says it is planned; a plan never run has
// nothing to stop.
func TestBulkPlanRunsOnlyAsPlanned(t *testing.T) {
	t.Parallel()
	b := newBulkSystem(t)
	p := b.plan(`{}`)
	status, body := b.do(http.MethodGet, "/v1/bulk/"+p.ID, "")
	if status != http.StatusOK || !strings.Contains(string(body), `"state":"planned"`) || !strings.Contains(string(body), `"created_by":"admin API"`) {
		t.Errorf("GET planned = %d %s", status, body)
	}
	if status, body := b.do(http.MethodPost, "/v1/bulk/"+p.ID+"/cancel", ""); status != http.StatusConflict || errCode(t, body) != "not_run" {
		t.Errorf("cancel planned = %d %s", status, body)
	}
	if status, body := b.do(http.MethodPost, "/v1/inbox/replay/"+p.ID+"/run", ""); status != http.StatusNotFound {
		t.Errorf("a follow-ups plan run as a replay = %d %s", status, body)
	}
	if status, body := b.do(http.MethodPost, "/v1/follow-ups/retry/bp_none/run", ""); status != http.StatusNotFound {
		t.Errorf("no such plan = %d %s", status, body)
	}
	if _, err := b.store.DB().Exec(`UPDATE bulk_plans SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if status, body := b.do(http.MethodPost, "/v1/follow-ups/retry/"+p.ID+"/run", ""); status != http.StatusGone || errCode(t, body) != "plan_expired" {
		t.Errorf("expired = %d %s", status, body)
	}
}

// Dead letters are planned by their filters, with a sample (never a body) and counts by source and kind.
func TestBulkReplayPlan(t *testing.T) {
	t.Parallel()
	b := newBulkSystem(t)
	ctx := context.Background()
	for i, e := range []string{"unknown kind qa-result", "Namespace not found", "namespace not found"} {
		id, err := b.store.AddToInbox(ctx, "airudder", []string{"qa-result", "call-completed", "call-completed"}[i], []byte(`{"secret": 1}`), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.DB().Exec(`UPDATE inbox SET state = 'dead', dead_at = now(), last_error = $2 WHERE id = $1`, id, e); err != nil {
			t.Fatal(err)
		}
	}
	status, body := b.do(http.MethodPost, "/v1/inbox/replay", `{"filters": {"error_contains": "namespace", "source": "airudder"}}`)
	var p struct {
		ID      string `json:"plan_id"`
		Matched int
		Sample  []map[string]any
		ByKind  []struct {
			Kind  string
			Count int
		} `json:"by_kind"`
	}
	if err := json.Unmarshal(body, &p); status != http.StatusOK || err != nil || p.ID == "" || p.Matched != 2 || len(p.Sample) != 2 ||
		len(p.ByKind) != 1 || p.ByKind[0].Kind != "call-completed" || p.ByKind[0].Count != 2 || strings.Contains(string(body), "secret") {
		t.Errorf("replay plan = %d %s", status, body)
	}
	if status, body := b.do(http.MethodPost, "/v1/follow-ups/retry/"+p.ID+"/run", ""); status != http.StatusNotFound {
		t.Errorf("a replay run as a retry = %d %s", status, body)
	}
	if status, body := b.do(http.MethodPost, "/v1/inbox/replay", `{"filters": {"error": "x"}}`); status != http.StatusBadRequest {
		t.Errorf("a misspelt filter = %d %s", status, body)
	}
}
