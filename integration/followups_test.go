package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/api/enums/v1"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
)

var crmSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("a-secret-shared-with-the-crm-0123"))

const needsFollowUpRules = `
time_zone: Asia/Jakarta
rules:
  - id: needs-follow-up
    description: Needs follow-up → an agent task in the CRM.
    when: call.intention_description == "Needs Follow Up"
    actions:
      - name: crm-task
        type: webhook
        target: crm
        fields: {queue: collections}
  - id: wrong-number
    when: call.ring_type == "wrongnum"
    actions:
      - {name: mark, type: webhook, target: crm}
`

// withCRM starts a system whose "crm" target is tg, and puts rules in force through the API.
func withCRM(t *testing.T, tg *target, rulesDoc string) *system {
	t.Helper()
	s := start(t, options{environ: []string{"RUDDERHOOK_TARGET_CRM_URL=" + tg.URL, "RUDDERHOOK_TARGET_CRM_SECRET=" + crmSecret}})
	if rulesDoc != "" {
		if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(rulesDoc)); status != http.StatusOK {
			t.Fatalf("PUT /v1/rules = %d %s", status, body)
		}
	}
	return s
}

type followUpView struct {
	ID             int64
	Status         string
	RuleID         string `json:"rule_id"`
	RuleVersion    int64  `json:"rule_version"`
	Action         string
	Attempts       int
	LastError      string `json:"last_error"`
	ResponseStatus *int   `json:"response_status"`
	WorkflowID     string `json:"temporal_workflow_id"`
	Key            string `json:"idempotency_key"`
	SubjectID      int64  `json:"subject_id"`
	Kind           string `json:"kind"`
}

// onlyFollowUp is the one follow-up GET /v1/follow-ups lists with the status.
func (s *system) onlyFollowUp(status string) followUpView {
	s.t.Helper()
	code, body := s.get("/v1/follow-ups?status=" + status)
	var list struct {
		FollowUps []followUpView `json:"follow_ups"`
	}
	mustUnmarshal(s.t, body, &list)
	if code != http.StatusOK || len(list.FollowUps) != 1 {
		s.t.Fatalf("%s follow-ups = %d %s", status, code, body)
	}
	return list.FollowUps[0]
}

func (s *system) followUpsOfSeed() []followUpView {
	s.t.Helper()
	status, body := s.get(callPath(seedCallID))
	if status != http.StatusOK {
		s.t.Fatalf("GET call = %d %s", status, body)
	}
	var call struct {
		FollowUps []followUpView `json:"follow_ups"`
	}
	mustUnmarshal(s.t, body, &call)
	return call.FollowUps
}

func TestFollowUpWebhookIsDeliveredExactlyOnce(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusOK))
	s := withCRM(t, crm, needsFollowUpRules)

	id := "call/airudder/" + seedCallID
	var run string
	for i := range 2 { // the second delivery is a duplicate: no second follow-up
		if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
			t.Fatalf("POST = %d %s", status, body)
		}
		s.waitWorkflow(id)
		if i == 0 {
			run = s.runID(id)
		}
	}

	got := crm.received()
	if len(got) != 1 {
		t.Fatalf("the CRM received %d deliveries, want exactly 1", len(got))
	}
	d := got[0]
	wantKey := rules.FollowUpKey("call/airudder/"+seedCallID, "needs-follow-up", "crm-task")
	if id := d.header.Get("webhook-id"); id != wantKey {
		t.Errorf("webhook-id = %q, want %q", id, wantKey)
	}
	wh, _ := standardwebhooks.NewWebhook(crmSecret)
	if err := wh.Verify(d.body, d.header); err != nil {
		t.Errorf("signature does not verify with the CRM's secret: %v (headers %v)", err, d.header)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var body struct {
		Type     string
		FollowUp struct {
			Key  string
			Rule struct {
				ID      string
				Version int64
			}
			Action struct {
				Name   string
				Fields map[string]any
			}
		} `json:"follow_up"`
		Call struct {
			Source string
			Call   map[string]any
		}
	}
	mustUnmarshal(t, d.body, &body)
	if body.Type != "rudderhook.follow_up" || body.FollowUp.Key != wantKey || body.FollowUp.Rule.ID != "needs-follow-up" ||
		body.FollowUp.Rule.Version != 1 || body.FollowUp.Action.Fields["queue"] != "collections" ||
		body.Call.Source != "airudder" || body.Call.Call["CallID"] != seedCallID || body.Call.Call["TotalOwingAmount"] != "20310.00" {
		t.Errorf("body = %s", d.body)
	}

	fus := s.followUpsOfSeed()
	if len(fus) != 1 {
		t.Fatalf("follow-ups = %+v", fus)
	}
	fu := fus[0]
	if fu.Status != "succeeded" || fu.Attempts != 1 || fu.ResponseStatus == nil || *fu.ResponseStatus != 200 || fu.RuleVersion != 1 ||
		fu.WorkflowID != "call/airudder/"+seedCallID {
		t.Errorf("follow-up = %+v, want it run by the call's own workflow", fu)
	}
	// One workflow for the call and its follow-up: no child workflow per follow-up, and the duplicate was
	// handed to no run.
	if n := s.events(id, enums.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED); n != 0 {
		t.Errorf("the call's workflow started %d children", n)
	}
	if r, n := s.runID(id), s.signals(id); r != run || n != 1 {
		t.Errorf("run %s (first %s), %d revisions handed to it; want the first run, with the first delivery only", r, run, n)
	}
	s.listed(`CaseID = "7777777.0"`, 1) // operators find it by case
}

func TestTargetDownForAWhileGetsOneDeliveryRecordedWithItsAttempts(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable // with Retry-After: 1
		}
		return http.StatusOK
	})
	s := withCRM(t, crm, needsFollowUpRules)
	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, body)
	}
	s.waitWorkflow("call/airudder/" + seedCallID)

	got := crm.received()
	if len(got) != 3 || got[0].header.Get("webhook-id") != got[2].header.Get("webhook-id") {
		t.Fatalf("the CRM saw %d requests; want 3 with one webhook-id", len(got))
	}
	fus := s.followUpsOfSeed()
	if len(fus) != 1 || fus[0].Status != "succeeded" || fus[0].Attempts != 3 || *fus[0].ResponseStatus != 200 || fus[0].LastError == "" {
		t.Errorf("follow-up = %+v, want succeeded after 3 attempts with the last error kept", fus)
	}
}

func TestRefusedFollowUpFailsVisiblyAndRetriesThroughTheAPI(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusBadRequest))
	s := withCRM(t, crm, needsFollowUpRules)
	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, body)
	}
	s.waitWorkflow("call/airudder/" + seedCallID) // the call's workflow completes; the follow-up failed

	fu := s.onlyFollowUp("failed")
	if fu.Attempts != 1 || fu.ResponseStatus == nil || *fu.ResponseStatus != 400 || !strings.Contains(fu.LastError, "HTTP 400") {
		t.Errorf("failed follow-up = %+v (a 400 is not retried)", fu)
	}
	// The call's workflow shows the failed attempt and why, in its history.
	ctx := context.Background()
	if fu.WorkflowID != "call/airudder/"+seedCallID || !s.historyMentions(fu.WorkflowID, "HTTP 400") {
		t.Errorf("the failure is not in the history of %q", fu.WorkflowID)
	}

	// The CRM is fixed; an operator retries.
	crm.setRespond(always(http.StatusOK))
	retry := fmt.Sprintf("/v1/follow-ups/%d/retry", fu.ID)
	if status, body := s.admin(http.MethodPost, retry, nil); status != http.StatusAccepted {
		t.Fatalf("retry = %d %s", status, body)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.client.GetWorkflow(wctx, fu.WorkflowID, "").Get(wctx, nil); err != nil {
		t.Fatalf("retried follow-up: %v", err)
	}
	status, body := s.get(fmt.Sprintf("/v1/follow-ups/%d", fu.ID))
	var after followUpView
	mustUnmarshal(t, body, &after)
	if status != http.StatusOK || after.Status != "succeeded" || after.Attempts != 2 || *after.ResponseStatus != 200 {
		t.Errorf("after retry = %d %s", status, body)
	}
	got := crm.received()
	if len(got) != 2 || got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") {
		t.Errorf("deliveries = %d; a retry must carry the same webhook-id", len(got))
	}
	// Only a failed follow-up can be retried: a second retry would repeat a success.
	if status, body := s.admin(http.MethodPost, retry, nil); status != http.StatusConflict || errorCode(t, body) != "not_failed" {
		t.Errorf("retry of a succeeded follow-up = %d %s", status, body)
	}
	if status, body := s.admin(http.MethodPost, "/v1/follow-ups/999999/retry", nil); status != http.StatusNotFound {
		t.Errorf("retry of an unknown follow-up = %d %s", status, body)
	}
}

func TestBadRulesAreRefusedAndTheVersionInForceStays(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusOK))
	s := withCRM(t, crm, needsFollowUpRules)

	bad := strings.Replace(needsFollowUpRules, `call.ring_type == "wrongnum"`, `call.ring_typ == "wrongnum"`, 1)
	status, body := s.admin(http.MethodPut, "/v1/rules", []byte(bad))
	var refusal struct {
		Error struct {
			Code     string
			Problems []rules.Problem
		}
	}
	mustUnmarshal(t, body, &refusal)
	if status != http.StatusUnprocessableEntity || refusal.Error.Code != "invalid_rules" || len(refusal.Error.Problems) != 1 ||
		refusal.Error.Problems[0].Rule != "wrong-number" || refusal.Error.Problems[0].Line != 13 ||
		!strings.Contains(refusal.Error.Problems[0].Message, "did you mean call.ring_type") {
		t.Errorf("PUT bad rules = %d %s", status, body)
	}
	unknownTarget := strings.Replace(needsFollowUpRules, "target: crm\n        fields", "target: helpdesk\n        fields", 1)
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(unknownTarget)); status != http.StatusUnprocessableEntity || !strings.Contains(string(body), `target \"helpdesk\" is not configured`) {
		t.Errorf("PUT rules with an unknown target = %d %s", status, body)
	}

	status, body = s.get("/v1/rules")
	var current struct {
		Version  int64
		Document string
	}
	mustUnmarshal(t, body, &current)
	if status != http.StatusOK || current.Version != 1 || current.Document != needsFollowUpRules {
		t.Errorf("rules in force = %d %s", status, body)
	}
	// The same text again is not a new version.
	status, body = s.admin(http.MethodPut, "/v1/rules", []byte(needsFollowUpRules))
	var saved struct {
		Version int64
		Created bool
	}
	mustUnmarshal(t, body, &saved)
	if status != http.StatusOK || saved.Version != 1 || saved.Created {
		t.Errorf("PUT same rules = %d %s", status, body)
	}

	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, body)
	}
	s.waitWorkflow("call/airudder/" + seedCallID)
	fus := s.followUpsOfSeed()
	if len(fus) != 1 || fus[0].RuleVersion != 1 || fus[0].Status != "succeeded" {
		t.Errorf("follow-ups planned with %+v", fus)
	}
}

func TestDryRunShowsWhatRulesWouldDoToStoredCalls(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusOK))
	s := withCRM(t, crm, "") // no rules in force: calls are only stored
	body := signed(t, func(_ map[string]any, d []any) []any {
		wrong := detailCopy(d, "dry-wrong")
		wrong["RingType"] = "wrongnum"
		wrong["intention_description"] = ""
		return []any{detailCopy(d, "dry-nfu"), wrong}
	})
	if status, b := s.post("airudder", body, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, b)
	}
	s.waitWorkflow("call/airudder/dry-nfu")
	s.waitWorkflow("call/airudder/dry-wrong")
	if status, b := s.admin(http.MethodPost, "/v1/rules/dry-run", []byte(`{}`)); status != http.StatusNotFound || errorCode(t, b) != "no_rules" {
		t.Errorf("dry run with no rules = %d %s", status, b)
	}

	req, _ := json.Marshal(map[string]any{"rules": needsFollowUpRules, "filter": map[string]any{"case_id": "7777777.0"}})
	status, b := s.admin(http.MethodPost, "/v1/rules/dry-run", req)
	var out struct {
		RuleVersion *int64 `json:"rule_version"`
		Matched     map[string]int
		FollowUps   int `json:"follow_ups"`
		Calls       []struct {
			Key       string
			Matched   []string         `json:"matched_rules"`
			FollowUps []rules.FollowUp `json:"follow_ups"`
		}
	}
	mustUnmarshal(t, b, &out)
	if status != http.StatusOK || out.RuleVersion != nil || out.Matched["needs-follow-up"] != 1 || out.Matched["wrong-number"] != 1 || out.FollowUps != 2 || len(out.Calls) != 2 {
		t.Fatalf("dry run = %d %s", status, b)
	}
	for _, c := range out.Calls {
		if c.Key == "dry-wrong" && (len(c.FollowUps) != 1 || c.FollowUps[0].Action != "mark" || c.FollowUps[0].Webhook.Target != "crm") {
			t.Errorf("dry-wrong = %+v", c)
		}
	}
	// A dry run stores and sends nothing.
	if n := s.count("follow_ups"); n != 0 {
		t.Errorf("follow_ups rows = %d", n)
	}
	if n := len(crm.received()); n != 0 {
		t.Errorf("the CRM received %d deliveries from a dry run", n)
	}
	// The filters of GET /v1/calls work as query parameters too, with the draft in the body.
	draft, _ := json.Marshal(map[string]any{"rules": needsFollowUpRules})
	status, b = s.admin(http.MethodPost, "/v1/rules/dry-run?call_id=dry-wrong", draft)
	out.Calls = nil
	mustUnmarshal(t, b, &out)
	if status != http.StatusOK || len(out.Calls) != 1 || out.Calls[0].Key != "dry-wrong" {
		t.Errorf("dry run by call_id = %d %s", status, b)
	}
	if status, b := s.admin(http.MethodPost, "/v1/rules/dry-run", []byte(`{"rules": "rules: [", "call_ids": ["dry-nfu"]}`)); status != http.StatusUnprocessableEntity {
		t.Errorf("dry run with a broken draft = %d %s", status, b)
	}
	status, b = s.admin(http.MethodPost, "/v1/rules/dry-run?call_id=nope", draft)
	if status != http.StatusNotFound || errorCode(t, b) != "not_found" || !strings.Contains(string(b), `no call with ID \"nope\"`) {
		t.Errorf("dry run of a call that is not stored = %d %s", status, b)
	}
}

// TestLargeCallIsStoredAndFollowedUpWhole sends a call whose transcript brings the body near the 2 MiB
// limit: too large for Temporal's payloads, so it goes through PostgreSQL, and nothing of it is lost.
func TestLargeCallIsStoredAndFollowedUpWhole(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusOK))
	s := start(t, options{environ: []string{"RUDDERHOOK_MAX_BODY_BYTES=2097152", "RUDDERHOOK_TARGET_CRM_URL=" + crm.URL}})
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(needsFollowUpRules)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	const lines = 9800
	body := signed(t, func(_ map[string]any, d []any) []any {
		asr := make([]any, lines)
		for i := range asr {
			asr[i] = map[string]any{"time": fmt.Sprintf("00:%02d:%02d", i/60%60, i%60), "robottext": strings.Repeat("kata ", 30), "text": fmt.Sprintf("line %d", i)}
		}
		d[0].(map[string]any)["AsrResult"] = asr
		return d
	})
	if len(body) < 1_900_000 || len(body) > 2<<20 {
		t.Fatalf("body is %d bytes; the test wants one just under 2 MiB", len(body))
	}
	if status, b := s.post("airudder", body, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, b)
	}
	s.waitWorkflow("call/airudder/" + seedCallID)

	rec, err := s.store.GetCall(context.Background(), "airudder", seedCallID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Call.AsrResult) != lines || rec.Call.AsrResult[lines-1].Text != fmt.Sprintf("line %d", lines-1) {
		t.Errorf("stored transcript has %d lines", len(rec.Call.AsrResult))
	}
	got := crm.received()
	if len(got) != 1 || len(got[0].body) < 1_500_000 || !strings.Contains(string(got[0].body), fmt.Sprintf("line %d", lines-1)) {
		t.Errorf("the CRM received %d deliveries (first %d bytes); want the whole call once", len(got), len(got[0].body))
	}
	if n := s.count("inbox"); n != 0 {
		t.Errorf("inbox = %d: the call was not handed to Temporal", n)
	}
}
