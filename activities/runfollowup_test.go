package activities_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/payload"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// These tests hold RunFollowUp, the one writer of a follow-up's row while its subject's workflow runs
// it, one attempt at a time: what it sends, what it records, and what it tells the workflow.

// An attempt that the target accepts is recorded as succeeded, with the target's status; the target gets
// the follow-up's body once, under the follow-up's idempotency key.
func TestRunFollowUpRecordsASuccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crm := newEndpoint(t, status(http.StatusCreated, ""))
	fu := webhook("ok", crm.URL, false)
	f.plan("ok", fu)

	res, err := f.run(fu, false)
	if err != nil || res.Status != rules.StatusSucceeded || res.ResponseStatus != http.StatusCreated {
		t.Fatalf("RunFollowUp = %+v, %v; want succeeded with 201", res, err)
	}
	got := crm.received()
	if len(got) != 1 || got[0].header.Get("webhook-id") != fu.Key || string(got[0].body) != `{"n":1}` {
		t.Fatalf("the target got %+v, want the body once under webhook-id %s", got, fu.Key)
	}
	row := f.row(fu.Key)
	if row.Status != rules.StatusSucceeded || row.Attempts != 1 || row.ResponseStatus == nil || *row.ResponseStatus != http.StatusCreated ||
		row.FinishedAt == nil || row.NextAttemptAt != nil || row.WorkflowID != testWorkflowID {
		t.Errorf("row = %s", show(row))
	}
}

// A 4xx (other than 408 and 429) is a refusal no retry can change: the follow-up fails for good, with the
// target's status and answer kept, and the workflow is told so by a non-retryable FollowUpFailed error.
func TestRunFollowUpFailsForGoodOnA4xx(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crm := newEndpoint(t, status(http.StatusUnprocessableEntity, ""))
	fu := webhook("refused", crm.URL, false)
	f.plan("refused", fu)

	_, err := f.run(fu, false)
	appErr := appError(t, err)
	if !appErr.NonRetryable() || appErr.Type() != activities.ErrTypeFollowUpFailed || !strings.Contains(appErr.Message(), activities.ErrTypeTargetRejected) {
		t.Errorf("error %q of type %s (non-retryable %v), want a non-retryable %s naming %s", appErr.Message(), appErr.Type(),
			appErr.NonRetryable(), activities.ErrTypeFollowUpFailed, activities.ErrTypeTargetRejected)
	}
	row := f.row(fu.Key)
	if row.Status != rules.StatusFailed || row.Attempts != 1 || row.ResponseStatus == nil || *row.ResponseStatus != http.StatusUnprocessableEntity ||
		!strings.Contains(row.LastError, "HTTP 422") || !strings.Contains(row.LastError, "Unprocessable Entity") || row.FinishedAt == nil {
		t.Errorf("row = %s", show(row))
	}
	if n := len(crm.received()); n != 1 {
		t.Errorf("the target got %d requests, want 1", n)
	}
}

// A passing failure is recorded as scheduled for the next attempt, and the error asks Temporal for that
// attempt's time: the target's Retry-After (else the schedule's backoff), moved to the calling window's
// next opening.
func TestRunFollowUpAsksForTheNextAttemptsTime(t *testing.T) {
	t.Parallel()
	window := &rules.Window{Start: "08:00", End: "20:00", TimeZone: "UTC"}
	for _, tc := range []struct {
		name       string
		now        time.Time
		code       int
		retryAfter string
		window     *rules.Window
		want       time.Duration
	}{
		{"Retry-After inside the window", monday10, http.StatusServiceUnavailable, "120", window, 2 * time.Minute},
		{"no Retry-After: the backoff", monday10, http.StatusServiceUnavailable, "", window, 10 * time.Second},
		{"429 with Retry-After", monday10, http.StatusTooManyRequests, "30", nil, 30 * time.Second},
		{"Retry-After past the window's end: its next opening", time.Date(2024, 3, 11, 19, 59, 0, 0, time.UTC),
			http.StatusServiceUnavailable, "120", window, 12*time.Hour + time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.now = tc.now
			crm := newEndpoint(t, status(tc.code, tc.retryAfter))
			fu := webhook("busy", crm.URL, false)
			fu.Window = tc.window
			f.plan("busy", fu)

			_, err := f.run(fu, false)
			appErr := appError(t, err)
			if appErr.NonRetryable() || appErr.NextRetryDelay() != tc.want {
				t.Errorf("error %q: non-retryable %v, next retry in %s; want a retryable one asking for %s", appErr.Message(),
					appErr.NonRetryable(), appErr.NextRetryDelay(), tc.want)
			}
			row := f.row(fu.Key)
			if row.Status != rules.StatusScheduled || row.Attempts != 1 || row.NextAttemptAt == nil || !row.NextAttemptAt.Equal(tc.now.Add(tc.want)) ||
				row.ResponseStatus == nil || *row.ResponseStatus != tc.code || !strings.Contains(row.LastError, http.StatusText(tc.code)) || row.FinishedAt != nil {
				t.Errorf("row = %s, want scheduled at %s after one attempt", show(row), tc.now.Add(tc.want))
			}
		})
	}
}

// An attempt whose next one would fall after the follow-up's deadline ends it: failed, saying how many
// attempts were made.
func TestRunFollowUpGivesUpAtItsDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crm := newEndpoint(t, status(http.StatusServiceUnavailable, "60"))
	fu := webhook("down", crm.URL, false)
	f.plan("down", fu)
	deadline := monday10.Add(90 * time.Second)

	if _, err := f.runUntil(fu, false, deadline); appError(t, err).NonRetryable() {
		t.Fatalf("the first attempt (its next one before the deadline) ended the follow-up: %v", err)
	}
	f.now = f.now.Add(time.Minute) // the second attempt; a third would be after the deadline
	_, err := f.runUntil(fu, false, deadline)
	appErr := appError(t, err)
	if !appErr.NonRetryable() || appErr.Type() != activities.ErrTypeFollowUpFailed || !strings.Contains(appErr.Message(), "gave up after 2 attempts") {
		t.Errorf("error %q of type %s, want a non-retryable %s: gave up after 2 attempts", appErr.Message(), appErr.Type(), activities.ErrTypeFollowUpFailed)
	}
	row := f.row(fu.Key)
	if row.Status != rules.StatusFailed || row.Attempts != 2 || !strings.HasPrefix(row.LastError, "gave up after 2 attempts: ") ||
		!strings.Contains(row.LastError, "HTTP 503") || row.FinishedAt == nil {
		t.Errorf("row = %s", show(row))
	}
	if n := len(crm.received()); n != 2 {
		t.Errorf("the target got %d requests, want 2", n)
	}
}

// An attempt that finds its follow-up running found an earlier attempt that stopped without an outcome
// (its worker died after sending, before recording): an action that must not be repeated blindly waits
// for review and sends nothing; the others send again, under the same webhook-id, so that the target can
// drop the repeat.
func TestRunFollowUpFindingAnEarlierAttemptWithoutAnOutcome(t *testing.T) {
	t.Parallel()
	for _, atMostOnce := range []bool{true, false} {
		name := map[bool]string{true: "at most once", false: "at least once"}[atMostOnce]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			crm := newEndpoint(t, status(http.StatusOK, ""))
			fu := webhook("died", crm.URL, atMostOnce)
			f.plan("died", fu)
			if _, err := f.run(fu, false); err != nil {
				t.Fatal(err)
			}
			// The worker died once the target had answered, before the outcome was written: the row says
			// running, as the attempt left it before it acted.
			if err := f.st.UpdateFollowUp(context.Background(), fu.Key, store.FollowUpUpdate{Status: rules.StatusRunning}); err != nil {
				t.Fatal(err)
			}

			res, err := f.run(fu, false)
			got, row := crm.received(), f.row(fu.Key)
			if atMostOnce {
				appErr := appError(t, err)
				if !appErr.NonRetryable() || appErr.Type() != activities.ErrTypeNeedsReview {
					t.Errorf("error %q of type %s, want a non-retryable %s", appErr.Message(), appErr.Type(), activities.ErrTypeNeedsReview)
				}
				if len(got) != 1 {
					t.Errorf("the target got %d requests, want only the first attempt's", len(got))
				}
				if row.Status != rules.StatusNeedsReview || row.Attempts != 1 || !strings.Contains(row.LastError, "stopped without an outcome") || row.FinishedAt == nil {
					t.Errorf("row = %s", show(row))
				}
				return
			}
			if err != nil || res.Status != rules.StatusSucceeded {
				t.Fatalf("RunFollowUp = %+v, %v; want it sent again and succeeded", res, err)
			}
			if len(got) != 2 || got[1].header.Get("webhook-id") != fu.Key || got[0].header.Get("webhook-id") != fu.Key {
				t.Errorf("the target got %d requests (%+v), want 2 under webhook-id %s", len(got), got, fu.Key)
			}
			if row.Status != rules.StatusSucceeded || row.Attempts != 2 {
				t.Errorf("row = %s", show(row))
			}
		})
	}
}

// A follow-up that succeeded is left as it is, by a repeated attempt and by an operator's retry alike.
func TestRunFollowUpLeavesASettledFollowUpAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crm := newEndpoint(t, status(http.StatusOK, ""))
	fu := webhook("settled", crm.URL, false)
	f.plan("settled", fu)
	if _, err := f.run(fu, false); err != nil {
		t.Fatal(err)
	}
	for _, retry := range []bool{false, true} {
		res, err := f.run(fu, retry)
		if err != nil || res.Status != rules.StatusSucceeded || res.Reason != "already succeeded" {
			t.Errorf("retry %v: RunFollowUp = %+v, %v; want it left succeeded", retry, res, err)
		}
	}
	if n, row := len(crm.received()), f.row(fu.Key); n != 1 || row.Attempts != 1 || row.Status != rules.StatusSucceeded {
		t.Errorf("the target got %d requests; row %s; want one attempt", n, show(row))
	}
}

// An operator's retry (Retry) reopens a follow-up that failed or waits for review; without it, such a
// follow-up is left as it ended.
func TestRunFollowUpOperatorsRetryReopensIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ended      rules.Status
		atMostOnce bool
		first      int // the target's first answer
	}{
		{rules.StatusFailed, false, http.StatusBadRequest},
		{rules.StatusNeedsReview, true, http.StatusBadGateway}, // maybe carried out: not repeated blindly
	} {
		t.Run(string(tc.ended), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			crm := newEndpoint(t, status(tc.first, ""))
			fu := webhook("again", crm.URL, tc.atMostOnce)
			f.plan("again", fu)
			if _, err := f.run(fu, false); !appError(t, err).NonRetryable() || f.row(fu.Key).Status != tc.ended {
				t.Fatalf("first attempt: %v, row %s; want it %s", err, show(f.row(fu.Key)), tc.ended)
			}
			crm.answer(status(http.StatusOK, ""))
			if res, err := f.run(fu, false); err != nil || res.Status != tc.ended || len(crm.received()) != 1 {
				t.Errorf("without a retry: %+v, %v after %d requests; want it left %s", res, err, len(crm.received()), tc.ended)
			}
			res, err := f.run(fu, true)
			if err != nil || res.Status != rules.StatusSucceeded {
				t.Fatalf("operator's retry = %+v, %v", res, err)
			}
			if row := f.row(fu.Key); row.Status != rules.StatusSucceeded || row.Attempts != 2 || len(crm.received()) != 2 {
				t.Errorf("after the retry: row %s, %d requests", show(row), len(crm.received()))
			}
		})
	}
}

// A full daily cap skips the follow-up when the rule says so, and otherwise has it wait for the next
// day, when there is room again; either way nothing is sent today.
func TestRunFollowUpWhenTheDailyCapIsFull(t *testing.T) {
	t.Parallel()
	for _, skip := range []bool{true, false} {
		t.Run(map[bool]string{true: "skip", false: "wait"}[skip], func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			crm := newEndpoint(t, status(http.StatusOK, ""))
			// Two calls to one callee, each asking for the rule's action, once a day at most.
			first, second := webhook("cap-1", crm.URL, false), webhook("cap-2", crm.URL, false)
			for callID, fu := range map[string]*rules.FollowUp{"cap-1": &first, "cap-2": &second} {
				fu.MaxPerDay, fu.SkipWhenCapped = 1, skip
				f.plan(callID, *fu)
			}
			if res, err := f.run(first, false); err != nil || res.Status != rules.StatusSucceeded {
				t.Fatalf("first = %+v, %v", res, err)
			}

			res, err := f.run(second, false)
			if err != nil {
				t.Fatal(err)
			}
			row := f.row(second.Key)
			const reason = "the callee's cap of 1 a day was reached on 2024-03-11"
			if len(crm.received()) != 1 || res.Reason != reason || row.LastError != reason || row.Attempts != 0 {
				t.Errorf("capped: %+v after %d requests; row %s", res, len(crm.received()), show(row))
			}
			if skip {
				if res.Status != rules.StatusSkipped || res.WaitUntil != nil || row.Status != rules.StatusSkipped || row.FinishedAt == nil {
					t.Errorf("skip: %+v; row %s", res, show(row))
				}
				return
			}
			tomorrow := time.Date(2024, 3, 12, 0, 0, 0, 0, time.UTC)
			if res.Status != rules.StatusScheduled || res.WaitUntil == nil || !res.WaitUntil.Equal(tomorrow) ||
				row.Status != rules.StatusScheduled || row.NextAttemptAt == nil || !row.NextAttemptAt.Equal(tomorrow) || row.FinishedAt != nil {
				t.Errorf("wait: %+v; row %s; want scheduled until %s", res, show(row), tomorrow)
			}
			f.now = tomorrow
			if res, err := f.run(second, false); err != nil || res.Status != rules.StatusSucceeded || len(crm.received()) != 2 {
				t.Errorf("the next day: %+v, %v after %d requests", res, err, len(crm.received()))
			}
		})
	}
}

// A webhook body larger than payload.PlanBodyLimit does not travel in the workflow's copy of the plan:
// the attempt reads it from the stored follow-up and sends it as planned; a small one travels and is
// sent as carried.
func TestRunFollowUpSendsTheStoredBodyOfAPlanCarriedWithoutIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crm := newEndpoint(t, status(http.StatusOK, ""))
	big := webhook("big", crm.URL, false)
	big.Webhook.Body = []byte(`{"transcript":"` + strings.Repeat("halo ", payload.PlanBodyLimit) + `"}`)
	f.plan("big", big)
	carried := big.ForWorkflow()
	if !carried.Webhook.BodyStored || carried.Webhook.Body != nil || big.Webhook.Body == nil {
		t.Fatalf("the workflow's copy carries %d bytes (stored %v), want none; the plan itself must keep its body", len(carried.Webhook.Body), carried.Webhook.BodyStored)
	}
	small := webhook("small", crm.URL, false)
	f.plan("small", small)
	if c := small.ForWorkflow(); c.Webhook.BodyStored || string(c.Webhook.Body) != `{"n":1}` {
		t.Fatalf("a small body must travel in the plan: %+v", c.Webhook)
	}

	for _, fu := range []rules.FollowUp{carried, small.ForWorkflow()} {
		if res, err := f.run(fu, false); err != nil || res.Status != rules.StatusSucceeded {
			t.Fatalf("RunFollowUp(%s) = %+v, %v", fu.Summary, res, err)
		}
	}
	got := crm.received()
	if len(got) != 2 || string(got[1].body) != `{"n":1}` {
		t.Fatalf("the target got %d deliveries, want the stored body, then the small one", len(got))
	}
	// The stored body is the same JSON (PostgreSQL's jsonb may space it differently).
	var sent, planned map[string]any
	if err := json.Unmarshal(got[0].body, &sent); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(big.Webhook.Body, &planned)
	if !reflect.DeepEqual(sent, planned) {
		t.Errorf("the target got %.80s…, want the planned body %.80s…", got[0].body, big.Webhook.Body)
	}
}
