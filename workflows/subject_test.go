package workflows_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
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
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(subjectStart)
	env.RegisterWorkflow(workflows.SubjectWorkflow)
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	planned := make([]activities.PlannedFollowUp, len(plan))
	for i, fu := range plan {
		planned[i] = activities.PlannedFollowUp{ID: int64(i + 1), Status: rules.StatusScheduled, Plan: fu}
	}
	var stores int
	env.OnActivity(acts.StoreAndPlan, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.StoreAndPlanInput) (*activities.StoreAndPlanResult, error) {
		stores++
		return &activities.StoreAndPlanResult{SubjectID: 7, Revision: stores, New: true, Latest: true, Planned: true,
			RuleVersion: 1, Matched: []string{"r"}, FollowUps: planned}, nil
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
