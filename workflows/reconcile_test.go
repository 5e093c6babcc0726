package workflows_test

import (
	"context"
	"log/slog"
	"strings"
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

var reconcileStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// reconcileEnv runs ReconcileWorkflow with PlanReconcile answering plan and ReconcileSlice answering
// slice; it records the slices asked for.
func reconcileEnv(t *testing.T, plan activities.ReconcilePlan, slice func(in activities.ReconcileSliceInput, n int) (*activities.ReconcileSliceResult, error)) (*testsuite.TestWorkflowEnvironment, func() []activities.ReconcileSliceInput) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(reconcileStart)
	env.RegisterWorkflow(workflows.ReconcileWorkflow)
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	env.OnActivity(acts.PlanReconcile, mock.Anything, mock.Anything).Return(&plan, nil)
	var mu sync.Mutex
	var asked []activities.ReconcileSliceInput
	counts := map[string]int{}
	env.OnActivity(acts.ReconcileSlice, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReconcileSliceInput) (*activities.ReconcileSliceResult, error) {
		mu.Lock()
		asked = append(asked, in)
		k := in.Family + in.From.String() + in.To.String()
		counts[k]++
		n := counts[k]
		mu.Unlock()
		return slice(in, n)
	})
	return env, func() []activities.ReconcileSliceInput {
		mu.Lock()
		defer mu.Unlock()
		return append([]activities.ReconcileSliceInput(nil), asked...)
	}
}

func report(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.ReconcileReport {
	t.Helper()
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var rep workflows.ReconcileReport
	if err := env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func at(min int) time.Time { return reconcileStart.Add(time.Duration(min) * time.Minute) }

// TestReconcileSlicesItsWindowsAndHalvesATooBusySlice: each family's window is read in slices of the
// plan's span, in order; a PDS slice that matches too many records is halved, and the report adds up.
func TestReconcileSlicesItsWindowsAndHalvesATooBusySlice(t *testing.T) {
	t.Parallel()
	plan := activities.ReconcilePlan{Slice: 10 * time.Minute, MaxRecords: 100, Windows: []activities.ReconcileWindow{
		{Family: "workflow", From: at(-35), To: at(0), Advance: true}, {Family: "pds", From: at(-20), To: at(0), Advance: true}}}
	env, asked := reconcileEnv(t, plan, func(in activities.ReconcileSliceInput, _ int) (*activities.ReconcileSliceResult, error) {
		if in.Family == "pds" && in.From.Equal(at(-20)) && in.To.Equal(at(-10)) {
			return &activities.ReconcileSliceResult{Split: true}, nil
		}
		return &activities.ReconcileSliceResult{Records: 10, Backfilled: 2, Differences: 1}, nil
	})
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Source: "airudder"})
	rep := report(t, env)
	var spans []string
	for _, in := range asked() {
		spans = append(spans, in.Family+" "+in.From.Format("15:04")+"-"+in.To.Format("15:04"))
		if !in.Advance || in.MaxRecords != 100 {
			t.Errorf("slice %+v", in)
		}
	}
	want := "workflow 11:25-11:35,workflow 11:35-11:45,workflow 11:45-11:55,workflow 11:55-12:00," +
		"pds 11:40-11:50,pds 11:40-11:45,pds 11:45-11:50,pds 11:50-12:00"
	if got := strings.Join(spans, ","); got != want {
		t.Errorf("slices\n %s, want\n %s", got, want)
	}
	if rep.WindowsScanned != 7 || rep.Splits != 1 || rep.Records != 70 || rep.Backfilled != 14 || rep.Differences != 7 || rep.Errors != 0 || !rep.Done {
		t.Errorf("report %+v", rep)
	}
}

// TestReconcileStopsAFamilyAtItsFailedSliceAndGoesOnAfterThrottling: a slice throttled is tried again
// after the wait it asks for and counts once; a slice that fails for good stops its family (the slices
// after it are not read, so its mark stays before it) and is reported, while the other family goes on.
func TestReconcileStopsAFamilyAtItsFailedSliceAndGoesOnAfterThrottling(t *testing.T) {
	t.Parallel()
	plan := activities.ReconcilePlan{Slice: 10 * time.Minute, MaxRecords: 100, Windows: []activities.ReconcileWindow{
		{Family: "workflow", From: at(-30), To: at(0), Advance: true}, {Family: "pds", From: at(-20), To: at(0), Advance: true}}}
	env, asked := reconcileEnv(t, plan, func(in activities.ReconcileSliceInput, n int) (*activities.ReconcileSliceResult, error) {
		switch {
		case in.Family == "workflow" && in.From.Equal(at(-20)):
			return nil, temporal.NewNonRetryableApplicationError("credentials refused", activities.ErrTypeAirudderRefused, nil)
		case in.Family == "pds" && in.From.Equal(at(-20)) && n == 1:
			return nil, temporal.NewApplicationErrorWithOptions("too many queries", activities.ErrTypeAirudderThrottled,
				temporal.ApplicationErrorOptions{NextRetryDelay: time.Minute})
		}
		return &activities.ReconcileSliceResult{Records: 5}, nil
	})
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Source: "airudder"})
	rep := report(t, env)
	workflowSlices := 0
	for _, in := range asked() {
		if in.Family == "workflow" {
			workflowSlices++
		}
	}
	if workflowSlices != 2 || rep.Errors != 1 || strings.Join(rep.Failed, ",") != "workflow" || rep.WindowsScanned != 3 || rep.Records != 15 ||
		len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "credentials refused") {
		t.Errorf("%d workflow slices asked; report %+v", workflowSlices, rep)
	}
}
