package activities_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// testWorkflowID is the workflow the test environment runs every activity for: the subject's identity for
// StoreAndPlan, the follow-up's runner for RunFollowUp.
const testWorkflowID = "default-test-workflow-id"

// monday10 is when the tests' clock stands unless a test moves it: Monday 11 March 2024, 10:00 UTC.
var monday10 = time.Date(2024, 3, 11, 10, 0, 0, 0, time.UTC)

// fixture runs activities in the SDK's activity test environment against a fresh database, on a clock the
// test sets, with targets that may listen on loopback.
type fixture struct {
	t    *testing.T
	st   *store.Store
	acts *activities.Activities
	env  *testsuite.TestActivityEnvironment
	now  time.Time
	// rules is the rule set the follow-ups that plan stores name (they must name one that is stored).
	rules int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := store.New(storetest.DB(t))
	f := &fixture{t: t, st: st, now: monday10}
	f.acts = &activities.Activities{
		Store: st, Rules: rulesync.New(st), Log: slog.New(slog.DiscardHandler), HTTP: activities.NewHTTPClient(),
		RuleURLs: egress.Policy{AllowLoopback: true}, // the fakes listen on loopback
		Clock:    func() time.Time { return f.now },
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	f.env = suite.NewTestActivityEnvironment()
	f.env.RegisterActivity(f.acts)
	return f
}

// call is the example call under another CallID.
func call(callID string) airudder.ReceivedCall {
	rc := airudder.ExampleCalls("airudder", monday10.Add(-time.Minute))[0]
	rc.Key, rc.Call.CallID = callID, callID
	return rc
}

// subject stores a call of its own and returns its subject's ID, for follow-ups to belong to.
func (f *fixture) subject(callID string) int64 {
	f.t.Helper()
	stored, err := f.st.StoreRevision(context.Background(), airudder.CallSubject(call(callID)), "call/airudder/"+callID, true)
	if err != nil {
		f.t.Fatal(err)
	}
	return stored.SubjectID
}

// webhook is a follow-up of a subject that POSTs {"n":1} to url; at most once when atMostOnce.
func webhook(subject, url string, atMostOnce bool) rules.FollowUp {
	onUnknown := rules.OnUnknownRetry
	if atMostOnce {
		onUnknown = rules.OnUnknownReview
	}
	return rules.FollowUp{
		Key: rules.FollowUpKey("call/airudder/"+subject, "r", "hook"), RuleID: "r", RuleVersion: 1, Action: "hook",
		Type: rules.TypeWebhook, Summary: "hook " + subject, CalleeNumber: "+6281100000", TimeZone: "UTC", OnUnknown: onUnknown,
		NotBefore: monday10, Webhook: &rules.WebhookRequest{URL: url, Body: []byte(`{"n":1}`)},
	}
}

// plan stores fu, scheduled, as a follow-up of a subject of its own (named by its callID).
func (f *fixture) plan(callID string, fu rules.FollowUp) {
	f.t.Helper()
	if f.rules == 0 {
		rs, _, err := f.st.SaveRuleSet(context.Background(), "d", "rules: []", store.RuleSetChange{Origin: "test"})
		if err != nil {
			f.t.Fatal(err)
		}
		f.rules = rs.Version
	}
	rec := store.FollowUpRecord{Key: fu.Key, RuleID: fu.RuleID, RuleVersion: f.rules, Action: fu.Action, Type: fu.Type,
		Summary: fu.Summary, CalleeNumber: fu.CalleeNumber, Plan: fu, Status: rules.StatusScheduled, NextAttemptAt: &fu.NotBefore}
	if _, err := f.st.InsertFollowUps(context.Background(), f.subject(callID), []store.FollowUpRecord{rec}); err != nil {
		f.t.Fatal(err)
	}
}

// schedule is the retry policy SubjectWorkflow gives actions (workflows.actionRetry).
var schedule = activities.RetrySchedule{Initial: 10 * time.Second, Coefficient: 2, Maximum: time.Hour}

// run makes one attempt at fu with RunFollowUp, retrying it for an operator when retry is set, until
// a deadline a day away.
func (f *fixture) run(fu rules.FollowUp, retry bool) (*activities.RunResult, error) {
	f.t.Helper()
	return f.runUntil(fu, retry, monday10.Add(24*time.Hour))
}

func (f *fixture) runUntil(fu rules.FollowUp, retry bool, deadline time.Time) (*activities.RunResult, error) {
	f.t.Helper()
	v, err := f.env.ExecuteActivity(f.acts.RunFollowUp, activities.RunInput{FollowUp: fu, Retry: retry, Deadline: deadline, Schedule: schedule})
	if err != nil {
		return nil, err
	}
	var res activities.RunResult
	if err := v.Get(&res); err != nil {
		f.t.Fatal(err)
	}
	return &res, nil
}

// row is the follow-up as stored.
func (f *fixture) row(key string) *store.FollowUpRecord {
	f.t.Helper()
	rec, err := f.st.FollowUpByKey(context.Background(), key)
	if err != nil {
		f.t.Fatal(err)
	}
	return rec
}

// appError is the application error an activity failed with, failing the test when it is none.
func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error %v (%T), want an application error", err, err)
	}
	return appErr
}

// endpoint is a stand-in for a CRM or a team channel: it records every request and answers the n-th
// (1-based) as respond says.
type endpoint struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	respond  func(n int, w http.ResponseWriter)
}

type request struct {
	header http.Header
	body   []byte
}

func newEndpoint(t *testing.T, respond func(n int, w http.ResponseWriter)) *endpoint {
	t.Helper()
	e := &endpoint{respond: respond}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.requests = append(e.requests, request{header: r.Header.Clone(), body: body})
		n, respond := len(e.requests), e.respond
		e.mu.Unlock()
		respond(n, w)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) received() []request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]request(nil), e.requests...)
}

// answer changes the answers from now on.
func (e *endpoint) answer(respond func(n int, w http.ResponseWriter)) {
	e.mu.Lock()
	e.respond = respond
	e.mu.Unlock()
}

// status answers every request with code, and Retry-After when retryAfter is set.
func status(code int, retryAfter string) func(int, http.ResponseWriter) {
	return func(_ int, w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"answer":"`+http.StatusText(code)+`"}`)
	}
}

// show is what the tests look at in a follow-up's row, for their messages.
func show(r *store.FollowUpRecord) string {
	s := fmt.Sprintf("{status %s, attempts %d, last_error %q", r.Status, r.Attempts, r.LastError)
	if r.ResponseStatus != nil {
		s += fmt.Sprintf(", response %d", *r.ResponseStatus)
	}
	if r.NextAttemptAt != nil {
		s += ", next attempt " + r.NextAttemptAt.UTC().Format(time.RFC3339)
	}
	if r.FinishedAt != nil {
		s += ", finished"
	}
	return s + "}"
}
