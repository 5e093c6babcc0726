package workflows_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/workflows"
)

func recallPlan() rules.FollowUp {
	return rules.FollowUp{Key: "c", RuleID: "r", Action: "recall", Type: rules.TypeAirudderRecall, Summary: "re-call",
		NotBefore: subjectStart, TimeZone: "UTC", OnUnknown: rules.OnUnknownReview,
		Recall: &rules.RecallRequest{WorkflowID: "wf", Callee: "+62811", AskAfter: 15 * time.Minute}}
}

func outcomeUnknown(context.Context, activities.RunInput, int) (*activities.RunResult, error) {
	return nil, temporal.NewNonRetryableApplicationError("outcome unknown", activities.ErrTypeNeedsReview, nil)
}

// TestSubjectWorkflowSettlesAnUnknownReCallByAsking: a re-call that ended needs_review is asked about
// its ask_after later, and ends as Airudder's answer says.
func TestSubjectWorkflowSettlesAnUnknownReCallByAsking(t *testing.T) {
	t.Parallel()
	var askedAt time.Time
	var asked []string
	env, _ := subjectEnv(t, []rules.FollowUp{recallPlan()}, outcomeUnknown, func(_ context.Context, in activities.SettleInput) (*activities.SettleResult, error) {
		asked = append(asked, in.Key)
		return &activities.SettleResult{Status: rules.StatusSucceeded, Found: "in wf", AirudderWorkflowID: "wf"}, nil
	})
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "SettleByAsking" {
			askedAt = env.Now()
		}
	})
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	res := result(t, env)
	if res.FollowUps[rules.StatusSucceeded] != 1 || len(asked) != 1 || asked[0] != "c" {
		t.Errorf("result %+v, asked %v", res, asked)
	}
	if d := askedAt.Sub(subjectStart); d < 15*time.Minute {
		t.Errorf("asked %s after the start, want its ask_after, 15m", d)
	}
}

// TestSubjectWorkflowKeepsAReCallForReviewWhenAirudderShowsNothing: when asking finds nothing the
// follow-up stays needs_review; a webhook that needs review is never asked about.
func TestSubjectWorkflowKeepsAReCallForReviewWhenAirudderShowsNothing(t *testing.T) {
	t.Parallel()
	hook := webhookPlan("hook")
	hook.OnUnknown = rules.OnUnknownReview
	var asked []string
	env, _ := subjectEnv(t, []rules.FollowUp{recallPlan(), hook}, outcomeUnknown, func(_ context.Context, in activities.SettleInput) (*activities.SettleResult, error) {
		asked = append(asked, in.Key)
		return &activities.SettleResult{Status: rules.StatusNeedsReview, Found: "the callee is in no workflow"}, nil
	})
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	res := result(t, env)
	if res.FollowUps[rules.StatusNeedsReview] != 2 || len(asked) != 1 || asked[0] != "c" {
		t.Errorf("result %+v, asked %v", res, asked)
	}
}

// TestAnOperatorsRetryEndsTheWaitToAsk: a retry while the workflow waits to ask Airudder runs the re-call
// again at once, and nothing is asked.
func TestAnOperatorsRetryEndsTheWaitToAsk(t *testing.T) {
	t.Parallel()
	plan := recallPlan()
	plan.Recall.AskAfter = time.Hour
	var asked int
	env, rec := subjectEnv(t, []rules.FollowUp{plan}, func(ctx context.Context, in activities.RunInput, n int) (*activities.RunResult, error) {
		if n == 1 {
			return outcomeUnknown(ctx, in, n)
		}
		return &activities.RunResult{Status: rules.StatusSucceeded}, nil
	}, func(context.Context, activities.SettleInput) (*activities.SettleResult, error) {
		asked++
		return &activities.SettleResult{Status: rules.StatusNeedsReview}, nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalRetry, workflows.RetryRequest{FollowUp: plan}) }, 10*time.Minute)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, subjectInput())
	res := result(t, env)
	if res.FollowUps[rules.StatusSucceeded] != 1 || asked != 0 || len(rec.all()) != 2 {
		t.Errorf("result %+v, asked %d times, attempts %+v", res, asked, rec.all())
	}
	if d := env.Now().Sub(subjectStart); d >= time.Hour {
		t.Errorf("the run lasted %s: it waited to ask after the retry", d)
	}
}
