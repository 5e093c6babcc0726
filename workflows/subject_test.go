package workflows_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/workflows"
)

// These tests hold SubjectWorkflow's shape with its activities mocked: they need no database (the
// integration tests run it whole).

var subjectStart = time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)

func subjectInput() workflows.SubjectInput {
	return workflows.NewSubjectInput(airudder.CallSubject(airudder.ExampleCalls("airudder", subjectStart)[0]), false)
}

// attempts records each RunFollowUp the workflow made: its follow-up, and whether it ran as a local
// activity.
type attempts struct {
	mu   sync.Mutex
	list []attemptCall
}

type attemptCall struct {
	key   string
	local bool
	retry bool
}

func (r *attempts) add(ctx context.Context, in activities.RunInput) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, attemptCall{key: in.FollowUp.Key, local: activity.GetInfo(ctx).IsLocalActivity, retry: in.Retry})
}

func (r *attempts) all() []attemptCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]attemptCall(nil), r.list...)
}

// subjectEnv is a test environment running SubjectWorkflow with StoreAndPlan answering plan and
// RunFollowUp answering run; SettleByAsking answers settle, or finds nothing (the follow-up stays
// needs_review).
func subjectEnv(t *testing.T, plan []rules.FollowUp, run func(ctx context.Context, in activities.RunInput, n int) (*activities.RunResult, error),
	settle ...func(context.Context, activities.SettleInput) (*activities.SettleResult, error)) (*testsuite.TestWorkflowEnvironment, *attempts) {
	t.Helper()
	planned := make([]activities.PlannedFollowUp, len(plan))
	for i, fu := range plan {
		planned[i] = activities.PlannedFollowUp{ID: int64(i + 1), Status: rules.StatusScheduled, Plan: fu}
	}
	return subjectEnvStoring(t, func(n int, _ activities.StoreAndPlanInput) *activities.StoreAndPlanResult {
		return &activities.StoreAndPlanResult{SubjectID: 7, Revision: n, New: true, Latest: true, Planned: true,
			RuleVersion: 1, Matched: []string{"r"}, FollowUps: planned}
	}, run, settle...)
}

// subjectEnvStoring is subjectEnv with StoreAndPlan answering store for its n-th run (1-based).
func subjectEnvStoring(t *testing.T, store func(n int, in activities.StoreAndPlanInput) *activities.StoreAndPlanResult,
	run func(ctx context.Context, in activities.RunInput, n int) (*activities.RunResult, error),
	settle ...func(context.Context, activities.SettleInput) (*activities.SettleResult, error)) (*testsuite.TestWorkflowEnvironment, *attempts) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(subjectStart)
	env.RegisterWorkflow(workflows.SubjectWorkflow)
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	var stores int
	env.OnActivity(acts.StoreAndPlan, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.StoreAndPlanInput) (*activities.StoreAndPlanResult, error) {
		stores++
		return store(stores, in), nil
	})
	asked := func(context.Context, activities.SettleInput) (*activities.SettleResult, error) {
		return &activities.SettleResult{Status: rules.StatusNeedsReview, Found: "the callee is in no workflow"}, nil
	}
	if len(settle) > 0 {
		asked = settle[0]
	}
	env.OnActivity(acts.SettleByAsking, mock.Anything, mock.Anything).Return(asked)
	rec := &attempts{}
	var mu sync.Mutex
	counts := map[string]int{}
	env.OnActivity(acts.RunFollowUp, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.RunInput) (*activities.RunResult, error) {
		rec.add(ctx, in)
		mu.Lock()
		counts[in.FollowUp.Key]++
		n := counts[in.FollowUp.Key]
		mu.Unlock()
		return run(ctx, in, n)
	})
	return env, rec
}

func webhookPlan(key string) rules.FollowUp {
	return rules.FollowUp{Key: key, RuleID: "r", Action: key, Type: rules.TypeWebhook, Summary: "webhook " + key,
		NotBefore: subjectStart, TimeZone: "UTC", OnUnknown: rules.OnUnknownRetry,
		Webhook: &rules.WebhookRequest{URL: "https://crm.example/hook", Body: []byte(`{}`)}}
}

func succeed(context.Context, activities.RunInput, int) (*activities.RunResult, error) {
	return &activities.RunResult{Status: rules.StatusSucceeded, ResponseStatus: 200}, nil
}

func result(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.SubjectResult {
	t.Helper()
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var res workflows.SubjectResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSubjectWorkflowRunsImmediateFollowUpsInItsFirstTask(t *testing.T) {
	t.Parallel()
	env, rec := subjectEnv(t, []rules.FollowUp{webhookPlan("a"), webhookPlan("b")}, succeed)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	res := result(t, env)
	if res.FollowUps[rules.StatusSucceeded] != 2 || res.SubjectID != 7 || len(res.Revisions) != 1 {
		t.Errorf("result %+v", res)
	}
	got := rec.all()
	if len(got) != 2 || !got[0].local || !got[1].local {
		t.Errorf("attempts %+v, want two, both local activities", got)
	}
}

func TestSubjectWorkflowRetriesAFailedLocalAttemptAsAnActivity(t *testing.T) {
	t.Parallel()
	env, rec := subjectEnv(t, []rules.FollowUp{webhookPlan("a")}, func(_ context.Context, _ activities.RunInput, n int) (*activities.RunResult, error) {
		if n == 1 {
			return nil, temporal.NewApplicationErrorWithOptions("crm answered 503", "TargetUnavailable", temporal.ApplicationErrorOptions{NextRetryDelay: 10 * time.Second})
		}
		return &activities.RunResult{Status: rules.StatusSucceeded, ResponseStatus: 200}, nil
	})
	var firedAt time.Time
	env.SetOnTimerFiredListener(func(string) { firedAt = env.Now() })
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	if res := result(t, env); res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Errorf("result %+v", res)
	}
	got := rec.all()
	if len(got) != 2 || !got[0].local || got[1].local {
		t.Errorf("attempts %+v, want a local one, then an activity", got)
	}
	if d := firedAt.Sub(subjectStart); d < 10*time.Second {
		t.Errorf("the retry waited %s, want the 10s the attempt asked for", d)
	}
}

func TestSubjectWorkflowAttemptsAnAtMostOnceActionOnlyAsAnActivity(t *testing.T) {
	t.Parallel()
	recall := rules.FollowUp{Key: "c", RuleID: "r", Action: "recall", Type: rules.TypeAirudderRecall, Summary: "re-call",
		NotBefore: subjectStart, TimeZone: "UTC", OnUnknown: rules.OnUnknownReview, Recall: &rules.RecallRequest{WorkflowID: "wf", Callee: "+62811"}}
	env, rec := subjectEnv(t, []rules.FollowUp{recall}, func(context.Context, activities.RunInput, int) (*activities.RunResult, error) {
		return nil, temporal.NewNonRetryableApplicationError("outcome unknown", activities.ErrTypeNeedsReview, nil)
	})
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	if res := result(t, env); res.FollowUps[rules.StatusNeedsReview] != 1 {
		t.Errorf("result %+v, want one needs_review", res)
	}
	if got := rec.all(); len(got) != 1 || got[0].local {
		t.Errorf("attempts %+v, want one, on the task queue", got)
	}
}

func TestSubjectWorkflowWaitsForADelayedFollowUpAndTakesRevisionsMeanwhile(t *testing.T) {
	t.Parallel()
	later := webhookPlan("later")
	later.NotBefore = subjectStart.Add(2 * time.Hour)
	env, rec := subjectEnv(t, []rules.FollowUp{later}, func(context.Context, activities.RunInput, int) (*activities.RunResult, error) {
		return &activities.RunResult{Status: rules.StatusSucceeded}, nil
	})
	corrected := subjectInput()
	c := *corrected.Call
	c.Digest, c.Call.Intention = "corrected", "PTP"
	corrected.Subject = airudder.CallSubject(c)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalRevision, corrected) }, time.Hour)
	var states []workflows.FollowUpState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryFollowUps)
		if err == nil {
			err = v.Get(&states)
		}
		if err != nil {
			t.Error(err)
		}
	}, 90*time.Minute)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	res := result(t, env)
	if len(res.Revisions) != 2 || res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Errorf("result %+v, want 2 revisions and the follow-up once", res)
	}
	if got := rec.all(); len(got) != 1 {
		t.Errorf("attempts %+v, want one: a revision plans a follow-up once", got)
	}
	if len(states) != 1 || states[0].Status != rules.StatusScheduled || states[0].NextAttemptAt == nil || !states[0].NextAttemptAt.Equal(later.NotBefore) {
		t.Errorf("query while waiting = %+v", states)
	}
}

func TestSubjectWorkflowWaitsForTheNextDayWhenTheCapIsFull(t *testing.T) {
	t.Parallel()
	capped := webhookPlan("capped")
	capped.MaxPerDay = 1
	nextDay := subjectStart.Add(24 * time.Hour).Truncate(24 * time.Hour)
	env, rec := subjectEnv(t, []rules.FollowUp{capped}, func(_ context.Context, _ activities.RunInput, n int) (*activities.RunResult, error) {
		if n == 1 {
			return &activities.RunResult{Status: rules.StatusScheduled, WaitUntil: &nextDay}, nil
		}
		return &activities.RunResult{Status: rules.StatusSucceeded}, nil
	})
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	if res := result(t, env); res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Errorf("result %+v", res)
	}
	if got := rec.all(); len(got) != 2 {
		t.Errorf("attempts %+v, want two: today's, then the next day's", got)
	}
	if env.Now().Before(nextDay) {
		t.Errorf("ended at %s, before the next day %s", env.Now(), nextDay)
	}
}

func TestSubjectWorkflowRunsAnOperatorsRetry(t *testing.T) {
	t.Parallel()
	failed := webhookPlan("failed")
	env, rec := subjectEnv(t, nil, succeed)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalRetry, workflows.RetryRequest{FollowUp: failed}) }, 0)
	in := subjectInput()
	in.Resume = true
	env.ExecuteWorkflow(workflows.SubjectWorkflow, in)
	res := result(t, env)
	if res.FollowUps[rules.StatusSucceeded] != 1 || len(res.Revisions) != 0 {
		t.Errorf("result %+v, want the retried follow-up succeeded and nothing stored", res)
	}
	if got := rec.all(); len(got) != 1 || !got[0].retry {
		t.Errorf("attempts %+v, want one retry", got)
	}
}

func TestSubjectWorkflowUpsertsOnlyWhatARevisionChanges(t *testing.T) {
	t.Parallel()
	later := webhookPlan("later") // keeps the run open while the revision arrives
	later.NotBefore = subjectStart.Add(time.Hour)
	env, _ := subjectEnv(t, []rules.FollowUp{later}, succeed)
	in := subjectInput()
	if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(workflows.SubjectSearchAttributes(in.Subject)...)); err != nil {
		t.Fatal(err)
	}
	var upserts []temporal.SearchAttributes
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		upserts = append(upserts, args.Get(0).(temporal.SearchAttributes))
	}).Return(nil)
	corrected := subjectInput()
	c := *corrected.Call
	c.Digest, c.Call.Intention = "corrected", "PTP"
	corrected.Subject = airudder.CallSubject(c)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalRevision, corrected) }, 0)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, in)
	result(t, env)
	if len(upserts) != 1 || upserts[0].Size() != 1 {
		t.Fatalf("upserts %+v, want one, of the intention alone", upserts)
	}
	if v, _ := upserts[0].GetKeyword(workflows.IntentionKey); v != "PTP" {
		t.Errorf("upserted intention %q", v)
	}
}

// recordings mocks RecordFollowUp, returning what the workflow recorded with it.
func recordings(env *testsuite.TestWorkflowEnvironment) func() []activities.RecordInput {
	var mu sync.Mutex
	var got []activities.RecordInput
	var a *activities.Activities
	env.OnActivity(a.RecordFollowUp, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, in)
		return nil
	})
	return func() []activities.RecordInput {
		mu.Lock()
		defer mu.Unlock()
		return append([]activities.RecordInput(nil), got...)
	}
}

// details is what the run says in the Temporal UI now (its current details).
func details(t *testing.T, env *testsuite.TestWorkflowEnvironment) string {
	t.Helper()
	v, err := env.QueryWorkflow("__temporal_workflow_metadata")
	if err != nil {
		t.Fatal(err)
	}
	var meta sdkpb.WorkflowMetadata
	if err := v.Get(&meta); err != nil {
		t.Fatal(err)
	}
	return meta.GetCurrentDetails()
}

// queryFollowUps is the run's answer to QueryFollowUps now.
func queryFollowUps(t *testing.T, env *testsuite.TestWorkflowEnvironment) []workflows.FollowUpState {
	t.Helper()
	v, err := env.QueryWorkflow(workflows.QueryFollowUps)
	if err != nil {
		t.Fatal(err)
	}
	var states []workflows.FollowUpState
	if err := v.Get(&states); err != nil {
		t.Fatal(err)
	}
	return states
}

// While a follow-up waits for its next attempt, the query and the details say so: its status, the
// attempts made, when the next is, and why the last failed; once it succeeded, they say that.
func TestSubjectWorkflowSaysWhereEachFollowUpStands(t *testing.T) {
	t.Parallel()
	env, _ := subjectEnv(t, []rules.FollowUp{webhookPlan("a")}, func(_ context.Context, _ activities.RunInput, n int) (*activities.RunResult, error) {
		if n == 1 {
			return nil, temporal.NewApplicationErrorWithOptions("crm answered 503", "TargetUnavailable", temporal.ApplicationErrorOptions{NextRetryDelay: 10 * time.Minute})
		}
		return &activities.RunResult{Status: rules.StatusSucceeded, ResponseStatus: 200}, nil
	})
	next := subjectStart.Add(10 * time.Minute)
	var waiting []workflows.FollowUpState
	var waitingDetails string
	env.RegisterDelayedCallback(func() { waiting, waitingDetails = queryFollowUps(t, env), details(t, env) }, 5*time.Minute)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	result(t, env)

	if len(waiting) != 1 || waiting[0].Key != "a" || waiting[0].Status != rules.StatusScheduled || waiting[0].Attempts != 1 ||
		waiting[0].NextAttemptAt == nil || !waiting[0].NextAttemptAt.Equal(next) || !strings.Contains(waiting[0].LastError, "crm answered 503") {
		t.Errorf("query while waiting = %+v, want a scheduled until %s after 1 attempt, with the error", waiting, next)
	}
	want := "Revision 1 stored; rules [r] (version 1) planned 1 follow-ups\n\n- webhook a: **scheduled** until 2024-03-11T03:31:00Z (crm answered 503"
	if !strings.HasPrefix(waitingDetails, want) {
		t.Errorf("details while waiting = %q, want %q…", waitingDetails, want)
	}
	if got := queryFollowUps(t, env); len(got) != 1 || got[0].Status != rules.StatusSucceeded || got[0].Attempts != 2 || got[0].NextAttemptAt != nil {
		t.Errorf("query at the end = %+v", got)
	}
	if got := details(t, env); !strings.Contains(got, "- webhook a: **succeeded**") || strings.Contains(got, "until") {
		t.Errorf("details at the end = %q", got)
	}
}

// An operator's retry runs a follow-up that ended in this run again, as a retry; one for a follow-up
// that still waits for its turn changes nothing (it is not attempted twice).
func TestSubjectWorkflowTakesARetryOnlyOfAFollowUpThatEnded(t *testing.T) {
	t.Parallel()
	later := webhookPlan("later") // keeps the run open while the retries come
	later.NotBefore = subjectStart.Add(time.Hour)
	env, rec := subjectEnv(t, []rules.FollowUp{webhookPlan("refused"), later}, func(_ context.Context, in activities.RunInput, n int) (*activities.RunResult, error) {
		if in.FollowUp.Key == "refused" && n == 1 {
			return nil, temporal.NewNonRetryableApplicationError("TargetRejected: crm answered 400", activities.ErrTypeFollowUpFailed, nil)
		}
		return &activities.RunResult{Status: rules.StatusSucceeded, ResponseStatus: 200}, nil
	})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalRetry, workflows.RetryRequest{FollowUp: later})
		env.SignalWorkflow(workflows.SignalRetry, workflows.RetryRequest{FollowUp: webhookPlan("refused")})
	}, 10*time.Minute)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	if res := result(t, env); res.FollowUps[rules.StatusSucceeded] != 2 {
		t.Errorf("result %+v, want both succeeded", res)
	}
	want := []attemptCall{{key: "refused", local: true}, {key: "refused", local: true, retry: true}, {key: "later", local: true}}
	if got := rec.all(); !slices.Equal(got, want) {
		t.Errorf("attempts %+v, want %+v", got, want)
	}
}

// A revision that is stored but not shown (an older one that arrived late) changes no search attribute,
// though its values differ.
func TestSubjectWorkflowUpsertsNothingForARevisionNotShown(t *testing.T) {
	t.Parallel()
	later := webhookPlan("later") // keeps the run open while the revision arrives
	later.NotBefore = subjectStart.Add(time.Hour)
	env, _ := subjectEnvStoring(t, func(n int, _ activities.StoreAndPlanInput) *activities.StoreAndPlanResult {
		out := &activities.StoreAndPlanResult{SubjectID: 7, Revision: n, New: true, Latest: n == 1, Planned: n == 1, RuleVersion: 1}
		if n == 1 {
			out.Matched, out.FollowUps = []string{"r"}, []activities.PlannedFollowUp{{ID: 1, Status: rules.StatusScheduled, Plan: later}}
		}
		return out
	}, succeed)
	in := subjectInput()
	if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(workflows.SubjectSearchAttributes(in.Subject)...)); err != nil {
		t.Fatal(err)
	}
	upserts := 0
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(mock.Arguments) { upserts++ }).Return(nil)
	older := subjectInput()
	c := *older.Call
	c.Digest, c.Call.Intention = "older", "PTP"
	older.Subject = airudder.CallSubject(c)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalRevision, older) }, time.Minute)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, in)
	if res := result(t, env); len(res.Revisions) != 2 {
		t.Fatalf("result %+v, want both revisions processed", res)
	}
	if upserts != 0 {
		t.Errorf("%d upserts for a revision that is not shown", upserts)
	}
}

// A run cancelled while a follow-up waits for its time attempts nothing and records nothing: the
// follow-up stays scheduled, for an operator to see.
func TestSubjectWorkflowCancelledWhileAFollowUpWaits(t *testing.T) {
	t.Parallel()
	later := webhookPlan("later")
	later.NotBefore = subjectStart.Add(2 * time.Hour)
	env, rec := subjectEnv(t, []rules.FollowUp{later}, succeed)
	recorded := recordings(env)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	if !env.IsWorkflowCompleted() {
		t.Fatal("the cancelled run did not end")
	}
	if got := rec.all(); len(got) != 0 {
		t.Errorf("attempts %+v after the cancel, want none", got)
	}
	if got := recorded(); len(got) != 0 {
		t.Errorf("recorded %+v after the cancel, want nothing", got)
	}
	if got := queryFollowUps(t, env); len(got) != 1 || got[0].Status != rules.StatusScheduled {
		t.Errorf("query after the cancel = %+v, want it scheduled", got)
	}
	if env.Now().After(later.NotBefore) {
		t.Errorf("the run went on to %s, past the follow-up's time %s", env.Now(), later.NotBefore)
	}
}

// When Temporal gives up on an attempt (its deadline passed while it ran, so the activity could not
// record how it ended), the workflow records the end: needs_review for an action that may have been
// carried out and must not be repeated blindly, failed for the others.
func TestSubjectWorkflowRecordsATimedOutAttempt(t *testing.T) {
	t.Parallel()
	recall := rules.FollowUp{Key: "recall", RuleID: "r", Action: "recall", Type: rules.TypeAirudderRecall, Summary: "re-call",
		NotBefore: subjectStart, TimeZone: "UTC", OnUnknown: rules.OnUnknownReview, Recall: &rules.RecallRequest{WorkflowID: "wf", Callee: "+62811"}}
	for _, tc := range []struct {
		plan rules.FollowUp
		want rules.Status
	}{
		{recall, rules.StatusNeedsReview},
		{webhookPlan("hook"), rules.StatusFailed},
	} {
		t.Run(string(tc.want), func(t *testing.T) {
			t.Parallel()
			env, rec := subjectEnv(t, []rules.FollowUp{tc.plan}, func(ctx context.Context, _ activities.RunInput, _ int) (*activities.RunResult, error) {
				if activity.GetInfo(ctx).IsLocalActivity { // the first attempt of an action that may be repeated
					return nil, temporal.NewApplicationErrorWithOptions("crm answered 503", "TargetUnavailable", temporal.ApplicationErrorOptions{NextRetryDelay: time.Minute})
				}
				return nil, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, nil)
			})
			recorded := recordings(env)
			env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
			if res := result(t, env); res.FollowUps[tc.want] != 1 {
				t.Errorf("result %+v, want one %s", res, tc.want)
			}
			got := recorded()
			if len(got) != 1 || got[0].Key != tc.plan.Key || got[0].Status != tc.want || !strings.Contains(got[0].Error, "no success within 72h0m0s") {
				t.Errorf("recorded %+v, want %s %s with the reason", got, tc.plan.Key, tc.want)
			}
			if n := len(rec.all()); n == 0 {
				t.Error("no attempt was made")
			}
		})
	}
}

// TestSubjectWorkflowDetailsPointAtTheRetriedActivity holds what an operator reads in the run's current
// details while Temporal retries a follow-up's activity: that it is running and where its attempts, last
// failure and next retry are (the pending activity) — not the wait before it, which has passed.
func TestSubjectWorkflowDetailsPointAtTheRetriedActivity(t *testing.T) {
	t.Parallel()
	env, _ := subjectEnv(t, []rules.FollowUp{webhookPlan("a")}, func(_ context.Context, _ activities.RunInput, n int) (*activities.RunResult, error) {
		if n < 3 { // the local attempt, then the activity's first: Temporal retries it an hour later
			return nil, temporal.NewApplicationErrorWithOptions("crm answered 503", "TargetUnavailable", temporal.ApplicationErrorOptions{NextRetryDelay: time.Hour})
		}
		return &activities.RunResult{Status: rules.StatusSucceeded, ResponseStatus: 200}, nil
	})
	var details string
	var states []workflows.FollowUpState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryFollowUps)
		if err == nil {
			err = v.Get(&states)
		}
		if err != nil {
			t.Error(err)
		}
		if v, err = env.QueryWorkflow("__temporal_workflow_metadata"); err == nil {
			var md sdkpb.WorkflowMetadata
			if err = v.Get(&md); err == nil {
				details = md.GetCurrentDetails()
			}
		}
		if err != nil {
			t.Error(err)
		}
	}, 90*time.Minute) // after the wait for the activity (1 h), during its retry (another hour)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	if res := result(t, env); res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Errorf("result %+v", res)
	}
	if len(states) != 1 || states[0].Status != rules.StatusRunning || states[0].NextAttemptAt != nil || states[0].LastError == "" {
		t.Errorf("query during the activity's retries = %+v, want running, no next attempt of its own, the last error known", states)
	}
	if !strings.Contains(details, "webhook a: **running**") || !strings.Contains(details, "pending activity") || strings.Contains(details, "until") {
		t.Errorf("current details during the activity's retries:\n%s\nwant the follow-up running, pointing at its pending activity, and no wait that has passed", details)
	}
}

// A recording's download never runs as a local activity (it may take longer than a workflow task
// should, and heartbeats), and its attempt has the time a long download needs.
func TestSubjectWorkflowArchivesARecordingOnlyAsAnActivityWithALongTimeout(t *testing.T) {
	t.Parallel()
	archive := rules.FollowUp{Key: "rec", RuleID: rules.SourceArchiveRule, Action: rules.TypeArchiveRecording, Type: rules.TypeArchiveRecording,
		Summary: "archive", NotBefore: subjectStart, TimeZone: "UTC", OnUnknown: rules.OnUnknownRetry,
		Recording: &rules.RecordingRequest{URL: "https://rec.example/a.wav", Source: "airudder", CallKey: "pds/x"}}
	var timeout, heartbeat time.Duration
	env, rec := subjectEnv(t, []rules.FollowUp{archive}, func(ctx context.Context, _ activities.RunInput, _ int) (*activities.RunResult, error) {
		info := activity.GetInfo(ctx)
		timeout, heartbeat = info.StartToCloseTimeout, info.HeartbeatTimeout
		return &activities.RunResult{Status: rules.StatusSucceeded, ResponseStatus: 200}, nil
	})
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	if res := result(t, env); res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Errorf("result %+v", res)
	}
	if got := rec.all(); len(got) != 1 || got[0].local {
		t.Errorf("attempts %+v, want one, on the task queue", got)
	}
	if timeout < 30*time.Minute || heartbeat <= 0 || heartbeat > time.Minute {
		t.Errorf("attempt's timeout %s, heartbeat timeout %s; want 30m and a heartbeat timeout of at most a minute", timeout, heartbeat)
	}
}
