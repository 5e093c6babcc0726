// Package repair is how operators mend what failed: a follow-up runs again (RetryFollowUp: its subject's
// workflow takes the retry), a dead letter is due again (the relay takes it), and the same in bulk — a
// plan first (PlanRetry, PlanReplay: what the filters and a condition match, a sample, where it will
// go), then one workflow that repairs exactly what the plan matched, bounded, at a rate, cancellable
// (Run, Status, Cancel; workflows.BulkRetryWorkflow).
//
// api and ui call it; the worker's activities reach RetryFollowUp through activities.FollowUpRetrier,
// which cmd wires, since activities may not import workflows. It imports store, rules, workflows and the
// Temporal client.
package repair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// Service repairs: it reads the store and starts and signals workflows.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// TaskQueue is where retries and bulk runs start (TEMPORAL_TASK_QUEUE; empty: workflows.TaskQueue).
	TaskQueue string
	// Numbers key what stands for a phone number in search attributes (config.Config.Numbers): a retry
	// may start its subject's workflow anew.
	Numbers airudder.NumberKeys
	Log     *slog.Logger
	// Now is the clock of plans' expiry (time.Now when nil), for tests.
	Now func() time.Time
}

var _ activities.FollowUpRetrier = (*Service)(nil)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// RetryFollowUp runs a follow-up again at once (within its calling window and daily cap), the same way
// whatever its subject's kind: its subject's workflow takes the retry (workflows.SignalRetry) — the open
// run, or a new run of the same ID that only carries it out. Only a failed follow-up, or one that needs
// review (an operator has checked that its action was not carried out, or wants it again anyway), is
// retried; any other is activities.ErrNotRetryable, so a retry can never repeat an action that succeeded.
// The run records the new status itself, so a fast run's writes are never overwritten from here.
func (s *Service) RetryFollowUp(ctx context.Context, rec *store.FollowUpRecord) (client.WorkflowRun, error) {
	if !rec.Status.Retryable() {
		return nil, fmt.Errorf("follow-up %d is %s: %w", rec.ID, rec.Status, activities.ErrNotRetryable)
	}
	subj, err := s.Store.GetSubject(ctx, rec.SubjectID)
	if err != nil {
		return nil, err
	}
	legacy, err := s.openLegacyRun(ctx, subj.WorkflowID)
	if err != nil {
		return nil, err
	}
	// As stored, the subject lacks what the receiver computed: the search value of its callee's number.
	subject := s.Numbers.WithCalleeSearch(subj.Subject)
	if legacy {
		// A run of a type from before SubjectWorkflow takes no retries: the follow-up's own workflow
		// runs again, as then.
		wf := workflows.FollowUpWorkflowID(subj.WorkflowID, rec.RuleID, rec.Action)
		return s.Temporal.ExecuteWorkflow(ctx, workflows.FollowUpStartOptions(wf, rec.Summary, workflows.SubjectSearchAttributes(subject), s.TaskQueue),
			workflows.FollowUpWorkflow, workflows.FollowUpInput{FollowUp: rec.Plan.ForWorkflow(), Retry: true})
	}
	in := workflows.SubjectInput{Subject: subject.Slim(), Resume: true}
	return s.Temporal.SignalWithStartWorkflow(ctx, subj.WorkflowID, workflows.SignalRetry,
		workflows.RetryRequest{FollowUp: rec.Plan.ForWorkflow()}, workflows.SubjectStartOptions(subject, s.TaskQueue), workflows.SubjectWorkflow, in)
}

// openLegacyRun says whether the workflow with this ID has an open run of a type from before
// SubjectWorkflow (CallCompletedWorkflow, EventWorkflow), which does not take SignalRetry.
func (s *Service) openLegacyRun(ctx context.Context, workflowID string) (bool, error) {
	desc, err := s.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	return info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && info.GetType().GetName() != workflows.SubjectWorkflowType, nil
}
