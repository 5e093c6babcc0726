package activities_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules"
)

// These tests hold the send paths of actions.go: what a webhook and a notification send, and what each
// answer (or its absence) means for the follow-up.

const crmSecret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="

// A webhook to a configured target carries the rule's headers and Standard Webhooks headers, signed with
// the target's secret, so that the target can check who sent it and drop a repeat by webhook-id.
func TestWebhookToATargetIsSignedAsStandardWebhooks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crm := newEndpoint(t, status(http.StatusOK, ""))
	f.acts.Targets = map[string]*config.Target{"crm": {Name: "crm", URL: crm.URL + "/hooks", Secret: crmSecret}}
	fu := webhook("signed", "", false)
	fu.Webhook.Target, fu.Webhook.Headers = "crm", map[string]string{"X-Queue": "collections"}
	f.plan("signed", fu)
	if _, err := f.run(fu, false); err != nil {
		t.Fatal(err)
	}
	got := crm.received()
	if len(got) != 1 {
		t.Fatalf("the target got %d requests", len(got))
	}
	h := got[0].header
	wh, err := standardwebhooks.NewWebhook(crmSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got[0].body, h); err != nil {
		t.Errorf("the signature does not verify with the target's secret: %v (%v)", err, h)
	}
	if h.Get("webhook-id") != fu.Key || h.Get("X-Queue") != "collections" || h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "rudderhook" {
		t.Errorf("headers = %v", h)
	}
}

// A notification posts its text as a Slack-compatible incoming webhook expects it.
func TestNotifyPostsItsText(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	channel := newEndpoint(t, status(http.StatusOK, ""))
	fu := webhook("notified", "", false)
	fu.Type, fu.Webhook, fu.Notify = rules.TypeNotify, nil, &rules.NotifyRequest{URL: channel.URL + "/services/T1/B2", Text: "call back 7777777.0"}
	f.plan("notified", fu)
	if res, err := f.run(fu, false); err != nil || res.Status != rules.StatusSucceeded {
		t.Fatalf("RunFollowUp = %+v, %v", res, err)
	}
	got := channel.received()
	var body map[string]string
	if len(got) != 1 || json.Unmarshal(got[0].body, &body) != nil || len(body) != 1 || body["text"] != "call back 7777777.0" {
		t.Errorf("the channel got %+v, want {\"text\": …} once", got)
	}
}

// What each answer means: 408, 429 and 5xx may be retried; a 5xx, or a connection cut once the request
// was sent, may have been carried out, so an action that must not be repeated blindly waits for review; a
// redirect is not followed and fails, as does any other 4xx.
func TestEachAnswerMeansWhatItSays(t *testing.T) {
	t.Parallel()
	cut := func(_ int, w http.ResponseWriter) { // the request arrived; the answer never leaves
		conn, _, _ := http.NewResponseController(w).Hijack()
		_ = conn.Close()
	}
	for _, tc := range []struct {
		name       string
		respond    func(int, http.ResponseWriter)
		atMostOnce bool
		want       rules.Status // as the row says after the attempt
		errType    string       // the error's type, as the workflow sees it
		mentions   string       // what its message says
	}{
		{"408", status(http.StatusRequestTimeout, ""), false, rules.StatusScheduled, "TargetUnavailable", "HTTP 408"},
		{"429 of an at-most-once action (certainly not carried out)", status(http.StatusTooManyRequests, ""), true, rules.StatusScheduled, "TargetUnavailable", "HTTP 429"},
		{"500", status(http.StatusInternalServerError, ""), false, rules.StatusScheduled, "TargetUnavailable", "HTTP 500"},
		{"500 of an at-most-once action", status(http.StatusInternalServerError, ""), true, rules.StatusNeedsReview, activities.ErrTypeNeedsReview, "outcome unknown"},
		{"connection cut", cut, false, rules.StatusScheduled, "FollowUpAttemptFailed", "POST http://127.0.0.1"},
		{"connection cut of an at-most-once action", cut, true, rules.StatusNeedsReview, activities.ErrTypeNeedsReview, "outcome unknown"},
		{"redirect", func(_ int, w http.ResponseWriter) {
			w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
			w.WriteHeader(http.StatusFound)
		}, false, rules.StatusFailed, activities.ErrTypeFollowUpFailed, activities.ErrTypeTargetRejected + ": "},
		{"404", status(http.StatusNotFound, ""), false, rules.StatusFailed, activities.ErrTypeFollowUpFailed, "HTTP 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			crm := newEndpoint(t, tc.respond)
			fu := webhook("answer", crm.URL, tc.atMostOnce)
			f.plan("answer", fu)
			_, err := f.run(fu, false)
			appErr := appError(t, err)
			if ends := tc.want != rules.StatusScheduled; appErr.NonRetryable() != ends || appErr.Type() != tc.errType || !strings.Contains(appErr.Message(), tc.mentions) {
				t.Errorf("error %q of type %s (non-retryable %v), want a %s (non-retryable %v) that says %q", appErr.Message(), appErr.Type(),
					appErr.NonRetryable(), tc.errType, ends, tc.mentions)
			}
			if row := f.row(fu.Key); row.Status != tc.want || row.Attempts != 1 || row.LastError == "" {
				t.Errorf("row = %s, want %s after one attempt, with the error kept", show(row), tc.want)
			}
			if n := len(crm.received()); n != 1 {
				t.Errorf("the target got %d requests, want 1", n)
			}
		})
	}
}

// A destination the configuration does not allow fails the follow-up for good before anything is sent,
// with the reason: a rule's url: on loopback when loopback is not allowed, a target not configured here.
func TestDestinationsNotAllowedFailBeforeSending(t *testing.T) {
	t.Parallel()
	inside := newEndpoint(t, status(http.StatusOK, ""))
	for _, tc := range []struct {
		name, target, url, errType, reason string
	}{
		{"loopback", "", inside.URL + "/admin", activities.ErrTypeDestinationRefused, "refused: 127.0.0.1 is a loopback address"},
		{"unknown target", "helpdesk", "", activities.ErrTypeTargetNotConfigured, `target "helpdesk" is not configured here (RUDDERHOOK_TARGET_HELPDESK_URL)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.acts.RuleURLs = egress.Policy{} // as serve and worker have it unless configured otherwise
			fu := webhook("nowhere", tc.url, false)
			fu.Webhook.Target = tc.target
			f.plan("nowhere", fu)
			_, err := f.run(fu, false)
			appErr := appError(t, err)
			if !appErr.NonRetryable() || appErr.Type() != activities.ErrTypeFollowUpFailed || !strings.HasPrefix(appErr.Message(), tc.errType+": ") {
				t.Errorf("error %q of type %s, want a non-retryable %s caused by %s", appErr.Message(), appErr.Type(), activities.ErrTypeFollowUpFailed, tc.errType)
			}
			if row := f.row(fu.Key); row.Status != rules.StatusFailed || !strings.HasPrefix(row.LastError, tc.reason) || row.ResponseStatus != nil {
				t.Errorf("row = %s, want failed: %s", show(row), tc.reason)
			}
		})
	}
	if n := len(inside.received()); n != 0 {
		t.Errorf("the loopback endpoint got %d requests, want none", n)
	}
}

// The action activities of FollowUpWorkflow (runs from before SubjectWorkflow) keep the follow-up's row
// as that workflow expects: running and counted before each attempt, the error and the time of the next
// attempt after a failure, the success left for the workflow to record.
func TestSendWebhookOfAFollowUpWorkflowKeepsItsRow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crm := newEndpoint(t, status(http.StatusServiceUnavailable, "30"))
	fu := webhook("old", crm.URL, false)
	f.plan("old", fu)
	in := activities.ActionInput{FollowUp: fu, Retry: schedule}

	before := time.Now()
	_, err := f.env.ExecuteActivity(f.acts.SendWebhook, in)
	after := time.Now()
	if appErr := appError(t, err); appErr.NonRetryable() || appErr.NextRetryDelay() != 30*time.Second {
		t.Errorf("error %q: non-retryable %v, next retry in %s; want a retryable one asking for 30s", appErr.Message(), appErr.NonRetryable(), appErr.NextRetryDelay())
	}
	row := f.row(fu.Key)
	if row.Status != rules.StatusRunning || row.Attempts != 1 || row.ResponseStatus == nil || *row.ResponseStatus != http.StatusServiceUnavailable ||
		!strings.Contains(row.LastError, "HTTP 503") || row.NextAttemptAt == nil ||
		row.NextAttemptAt.Before(before.Add(30*time.Second).Truncate(time.Microsecond)) || row.NextAttemptAt.After(after.Add(30*time.Second)) {
		t.Errorf("after a failed attempt: row %s", show(row))
	}

	crm.answer(status(http.StatusOK, ""))
	v, err := f.env.ExecuteActivity(f.acts.SendWebhook, in)
	var res activities.ActionResult
	if err == nil {
		err = v.Get(&res)
	}
	if err != nil || res.Status != http.StatusOK {
		t.Fatalf("second attempt = %+v, %v", res, err)
	}
	if row := f.row(fu.Key); row.Status != rules.StatusRunning || row.Attempts != 2 || row.NextAttemptAt != nil || len(crm.received()) != 2 {
		t.Errorf("after a successful attempt: row %s (the workflow records the success), %d requests", show(row), len(crm.received()))
	}
}
