package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"

	"github.com/rudderhook/rudderhook/workflows"
)

// retryingCallID is the call of TestTemporalUIShowsACallsFollowUps whose CRM task keeps failing.
const retryingCallID = "retry0xxxxxxxx35644a"

// TestTemporalUIShowsACallsFollowUps is an operator reading the Temporal Web UI, in a real browser, after
// the README's walkthrough: the seed call's workflow found by its search attributes, its follow-ups in
// its own history named by their summaries, its details saying where each stands; and, for a call whose
// CRM answers 503, the follow-up retrying — its attempt, last failure and next retry in the pending
// activity, its state in the follow_ups query — and the same in the admin API. With
// RUDDERHOOK_SCREENSHOTS=1 (make screenshots) the pages are saved to docs/ui/temporal-*.png, which the
// README shows.
func TestTemporalUIShowsACallsFollowUps(t *testing.T) {
	b := newBrowser(t)
	// The CRM takes the seed call's task and answers 503 to the other call's, whose body names it.
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), retryingCallID) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(crm.Close)
	team := newTarget(t, always(http.StatusOK))
	s := start(t, options{uiAddr: "127.0.0.1:0", environ: []string{
		"RUDDERHOOK_TARGET_CRM_URL=" + crm.URL, "RUDDERHOOK_TARGET_TEAM_CHANNEL_URL=" + team.URL,
	}})
	example, err := os.ReadFile("../deploy/rules.example.yaml") // the rules `make dev` runs
	if err != nil {
		t.Fatal(err)
	}
	if status, body := s.admin(http.MethodPut, "/v1/rules", example); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}

	seedID, retryingID := workflows.CallWorkflowID("airudder", seedCallID), workflows.CallWorkflowID("airudder", retryingCallID)
	if status, body := s.post("airudder", signed(t, nil), "application/json"); status != http.StatusOK {
		t.Fatalf("POST the seed call = %d %s", status, body)
	}
	s.waitWorkflow(seedID)
	retrying := signed(t, func(_ map[string]any, details []any) []any { return []any{detailCopy(details, retryingCallID)} })
	if status, body := s.post("airudder", retrying, "application/json"); status != http.StatusOK {
		t.Fatalf("POST the other call = %d %s", status, body)
	}
	// Its first attempt failed inside the workflow task, its activity's first attempt after 10 s: Temporal
	// now waits to retry it.
	s.waitPendingAttempt(retryingID, 2)

	// The admin API: the seed call's two follow-ups succeeded, the other's CRM task waits to retry.
	var seed struct {
		FollowUps []struct {
			Status, Summary string
			WorkflowID      string `json:"temporal_workflow_id"`
		} `json:"follow_ups"`
	}
	_, body := s.get(callPath(seedCallID))
	mustUnmarshal(t, body, &seed)
	if len(seed.FollowUps) != 2 {
		t.Fatalf("the seed call's follow-ups: %s", body)
	}
	for _, fu := range seed.FollowUps {
		if fu.Status != "succeeded" || fu.WorkflowID != seedID {
			t.Errorf("the seed call's follow-up %q is %s in %s, want succeeded in the call's own workflow", fu.Summary, fu.Status, fu.WorkflowID)
		}
	}
	crmTask := s.retryingFollowUp()
	if crmTask.Attempts < 2 || !strings.Contains(crmTask.LastError, "503") || crmTask.NextAttemptAt == nil || crmTask.WorkflowID != retryingID {
		t.Errorf("GET /v1/follow-ups shows the retrying task as %+v, want its attempts, the 503 and the next attempt, in %s", crmTask, retryingID)
	}

	ui := s.temporal.UIURL + "/namespaces/default/workflows"
	page := func(id, runID, tab string) string {
		return ui + "/" + url.PathEscape(id) + "/" + runID + "/" + tab
	}
	shows := func(what string, texts ...string) {
		t.Helper()
		conds := make([]string, len(texts))
		for i, text := range texts {
			q, _ := json.Marshal(text)
			conds[i] = "text.includes(" + string(q) + ")"
		}
		b.waitFor(what, "(text => "+strings.Join(conds, " && ")+")("+pageText+")")
	}
	// Each page is shot at the size that shows it whole (the UI scrolls inside its own frame).
	size := func(width, height int64) { t.Helper(); b.do("size the window", cdp.EmulateViewport(width, height)) }
	click := func(label string) {
		t.Helper()
		q, _ := json.Marshal(label)
		b.waitFor("a button "+label, `[...document.querySelectorAll('button')].some(b => b.innerText.trim() === `+string(q)+`)`)
		b.do("click "+label, cdp.Evaluate[cdp.Void](`[...document.querySelectorAll('button')].find(b => b.innerText.trim() === `+string(q)+`).click()`))
	}

	// 1. The executions of a case, by search attribute: one workflow per call.
	size(1440, 560)
	b.do("list the case's executions", cdp.Navigate(ui+"?query="+url.QueryEscape(`CaseID = "7777777.0" AND Kind = "call_completed"`)))
	shows("both calls listed", seedID, retryingID, "SubjectWorkflow")
	b.screenshot("temporal-workflows")

	// 2. The seed call: its follow-ups are local activities of its own history, each named by its summary.
	seedRun := s.runID(seedID)
	size(1680, 980)
	b.do("open the seed call's history", cdp.Navigate(page(seedID, seedRun, "history")))
	click("Compact")
	shows("the seed call's steps", "StoreAndPlan", "POST crm (needs-follow-up)", "Notify team_channel (needs-follow-up)", "Local Activity")
	b.screenshot("temporal-call-history")

	// 3. Its summary, details and current details: where each follow-up stands.
	size(1440, 820)
	b.do("open the seed call's metadata", cdp.Navigate(page(seedID, seedRun, "user-metadata")))
	shows("the seed call's summary and current details", "Call to +86••••••••721: E (Needs Follow Up), finished, case 7777777.0",
		"POST crm (needs-follow-up): succeeded", "Notify team_channel (needs-follow-up): succeeded")
	b.screenshot("temporal-call-details")

	// 4. The other call: its CRM task is a pending activity, retried by Temporal.
	retryRun := s.runID(retryingID)
	size(1680, 1040)
	b.do("open the retrying call's history", cdp.Navigate(page(retryingID, retryRun, "history")))
	click("Compact")
	shows("the retrying task in the history", "Pending Activity", "NEXT RETRY", "Retry in 10s: POST crm (needs-follow-up)")
	if got := eval[string](b, pageText); !strings.Contains(strings.ToUpper(got), "ATTEMPT 2") && !strings.Contains(strings.ToUpper(got), "ATTEMPT 3") {
		t.Errorf("the history shows no attempt count of the pending activity:\n%s", got)
	}
	b.screenshot("temporal-retrying-history")

	size(1440, 620)
	b.do("open the pending activities", cdp.Navigate(page(retryingID, retryRun, "pending-activities")))
	shows("the pending activity's attempt, last failure and next retry", "RunFollowUp", "Attempt", "Next Retry", "Last Failure", "503")
	b.screenshot("temporal-pending-activity")

	// 5. The follow_ups query: each follow-up's state as the run holds it.
	size(1440, 820)
	b.do("open the queries", cdp.Navigate(page(retryingID, retryRun, "query")))
	b.waitFor("the follow_ups query offered", `[...document.querySelectorAll('input, select, button')].some(e => (e.value || e.innerText || '').includes('follow_ups'))`)
	click("Run Query")
	shows("the follow_ups query's answer", `"status": "running"`, `"status": "succeeded"`, `"last_error"`, "503")
	b.screenshot("temporal-follow-ups-query")

	b.do("open the retrying call's metadata", cdp.Navigate(page(retryingID, retryRun, "user-metadata")))
	shows("the retrying call's current details", "POST crm (needs-follow-up): running — its pending activity shows the attempt, the last failure and the next retry")
}

// pageText is what a page of the Temporal UI says, with the summaries and details it writes into frames
// of their own (rendered Markdown).
const pageText = `document.body.innerText + [...document.querySelectorAll('iframe')].map(f => {
	try { return '\n' + f.contentDocument.body.innerText } catch (e) { return '' }
}).join('')`

// waitPendingAttempt waits until the workflow's pending activity is at attempt n or later.
func (s *system) waitPendingAttempt(id string, n int32) {
	s.t.Helper()
	eventually(s.t, fmt.Sprintf("a pending activity of %s at attempt %d, after a failure", id, n), func() bool {
		desc, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return false // not started yet: the relay starts it after the acknowledgement
		}
		for _, pa := range desc.GetPendingActivities() {
			if pa.GetAttempt() >= n && pa.GetLastFailure() != nil {
				return true
			}
		}
		return false
	})
}

type waitingFollowUp struct {
	Status        string
	Summary       string
	Attempts      int
	LastError     string     `json:"last_error"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	WorkflowID    string     `json:"temporal_workflow_id"`
}

// retryingFollowUp is the CRM task of the retrying call as GET /v1/follow-ups shows it between attempts.
func (s *system) retryingFollowUp() waitingFollowUp {
	s.t.Helper()
	var last waitingFollowUp
	eventually(s.t, "the retrying call's CRM task waiting for its next attempt", func() bool {
		var page struct {
			FollowUps []waitingFollowUp `json:"follow_ups"`
		}
		_, body := s.get("/v1/follow-ups?type=webhook&call_key=" + retryingCallID)
		mustUnmarshal(s.t, body, &page)
		if len(page.FollowUps) == 1 {
			last = page.FollowUps[0]
		}
		return last.Status == "scheduled"
	})
	return last
}
