package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/workflows"
)

// batchCall is one RepairBatch the run made, and when (on the test's clock, which skips the run's waits).
type batchCall struct {
	in activities.RepairBatchInput
	at time.Duration
}

// bulkEnv runs BulkRetryWorkflow with RepairBatch mocked: each batch repairs all its IDs but the first,
// which it skips, after taking took.
func bulkEnv(t *testing.T, took time.Duration) (*testsuite.TestWorkflowEnvironment, func() []batchCall) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(subjectStart)
	env.RegisterWorkflow(workflows.BulkRetryWorkflow)
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	var mu sync.Mutex
	var calls []batchCall
	m := env.OnActivity(acts.RepairBatch, mock.Anything, mock.Anything)
	if took > 0 {
		m = m.After(took)
	}
	m.Return(func(_ context.Context, in activities.RepairBatchInput) (*activities.RepairBatchResult, error) {
		mu.Lock()
		calls = append(calls, batchCall{in: in, at: env.Now().Sub(subjectStart)})
		mu.Unlock()
		return &activities.RepairBatchResult{Repaired: in.Limit - 1, Skipped: 1}, nil
	})
	return env, func() []batchCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]batchCall(nil), calls...)
	}
}

// A run keeps to its plan's rate: batches of about five seconds' worth of repairs (at most 50), each
// begun no sooner than the one before's share of the rate after it; it reports what it did.
func TestBulkRetryWorkflowKeepsToItsRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate    float64
		total   int
		offsets []int
		limits  []int
		every   time.Duration
	}{
		{rate: 10, total: 120, offsets: []int{0, 50, 100}, limits: []int{50, 50, 20}, every: 5 * time.Second},
		{rate: 1, total: 12, offsets: []int{0, 5, 10}, limits: []int{5, 5, 2}, every: 5 * time.Second},
		{rate: 100, total: 120, offsets: []int{0, 50, 100}, limits: []int{50, 50, 20}, every: 500 * time.Millisecond},
	} {
		env, calls := bulkEnv(t, 0)
		env.ExecuteWorkflow(workflows.BulkRetryWorkflow, workflows.BulkInput{PlanID: "bp_1", What: activities.RepairFollowUps,
			Total: tc.total, RatePerSecond: tc.rate})
		if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
			t.Fatalf("rate %v: completed %v, %v", tc.rate, env.IsWorkflowCompleted(), env.GetWorkflowError())
		}
		got := calls()
		if len(got) != len(tc.offsets) {
			t.Fatalf("rate %v: %d batches, want %d: %+v", tc.rate, len(got), len(tc.offsets), got)
		}
		for i, c := range got {
			if c.in.PlanID != "bp_1" || c.in.Offset != tc.offsets[i] || c.in.Limit != tc.limits[i] || c.in.RatePerSecond != tc.rate {
				t.Errorf("rate %v: batch %d = %+v", tc.rate, i, c.in)
			}
			if want := time.Duration(i) * tc.every; c.at != want {
				t.Errorf("rate %v: batch %d began at %v, want %v (%d repairs at %v a second)", tc.rate, i, c.at, want, tc.limits[0], tc.rate)
			}
		}
		var p workflows.BulkProgress
		if err := env.GetWorkflowResult(&p); err != nil {
			t.Fatal(err)
		}
		if p.Total != tc.total || p.Done != tc.total || p.Repaired != tc.total-3 || p.Skipped != 3 || p.Cancelled {
			t.Errorf("rate %v: result %+v", tc.rate, p)
		}
	}
}

// Cancelled while a batch runs, a run lets that batch finish, counts it, starts no other, and ends as
// cancelled with how far it got; its query says the same.
func TestBulkRetryWorkflowStopsBetweenBatchesWhenCancelled(t *testing.T) {
	t.Parallel()
	env, calls := bulkEnv(t, 4*time.Second)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
	env.ExecuteWorkflow(workflows.BulkRetryWorkflow, workflows.BulkInput{PlanID: "bp_2", What: activities.RepairDeadLetters,
		Total: 120, RatePerSecond: 10})
	if got := calls(); len(got) != 1 {
		t.Fatalf("batches %+v, want the one under way only", got)
	}
	var cancelled *temporal.CanceledError
	if err := env.GetWorkflowError(); !errors.As(err, &cancelled) {
		t.Fatalf("error %v, want cancelled", err)
	}
	var p workflows.BulkProgress
	if err := cancelled.Details(&p); err != nil {
		t.Fatal(err)
	}
	if p.Total != 120 || p.Done != 50 || p.Repaired != 49 || p.Skipped != 1 || !p.Cancelled {
		t.Errorf("progress %+v, want the first batch counted and cancelled", p)
	}
	v, err := env.QueryWorkflow(workflows.QueryBulkProgress)
	if err != nil {
		t.Fatal(err)
	}
	var q workflows.BulkProgress
	if err := v.Get(&q); err != nil || q.Done != 50 || !q.Cancelled {
		t.Errorf("query = %+v, %v", q, err)
	}
}
