package repair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// ErrNotRun means a plan was asked to stop that was never run.
var ErrNotRun = errors.New("the plan has not been run")

// States of a plan and its run (Status.State).
const (
	StatePlanned   = "planned"
	StateRunning   = "running"
	StateCompleted = "completed"
	StateCancelled = "cancelled"
	StateFailed    = "failed"
	// StateStopped is a run that was terminated or timed out.
	StateStopped = "stopped"
)

// Status is where a plan stands: planned, its run running or ended, and how far that got.
type Status struct {
	PlanID    string    `json:"plan_id"`
	What      string    `json:"what"`
	Matched   int       `json:"matched"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when a plan not run can no longer be.
	ExpiresAt time.Time `json:"expires_at"`
	State     string    `json:"state"`
	// WorkflowID is the run's, once the plan was run.
	WorkflowID string     `json:"workflow_id,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	// Progress is how far the run got (workflows.BulkProgress: its query), when its worker answers.
	Progress *workflows.BulkProgress `json:"progress,omitempty"`
}

// Run starts the run of a plan of what (store.BulkFollowUps, store.BulkDeadLetters): one workflow,
// BulkRetryWorkflow, that repairs exactly the IDs the plan matched. A plan run again finds its run; a plan
// of another kind is store.ErrNotFound, one never run that has expired store.ErrPlanExpired.
func (s *Service) Run(ctx context.Context, planID, what string) (*Status, error) {
	p, err := s.Store.GetBulkPlan(ctx, planID)
	if err != nil {
		return nil, err
	}
	if p.What != what {
		return nil, fmt.Errorf("bulk plan %s is of %s: %w", planID, p.What, store.ErrNotFound)
	}
	// Recorded first: a start that fails is made again by running the plan again, under the same ID.
	if p, err = s.Store.StartBulkPlan(ctx, planID, workflows.BulkWorkflowID(planID)); err != nil {
		return nil, err
	}
	var pace Pace
	if err := json.Unmarshal(p.Request, &pace); err != nil {
		return nil, fmt.Errorf("read bulk plan %s: %w", planID, err)
	}
	verb, noun := "Retry", "follow-ups"
	if what == store.BulkDeadLetters {
		verb, noun = "Replay", "dead letters"
	}
	summary := fmt.Sprintf("%s %d %s at %v a second (plan %s by %s)", verb, p.Matched, noun, pace.RatePerSecond, planID, p.CreatedBy)
	run, err := s.Temporal.ExecuteWorkflow(ctx, workflows.BulkStartOptions(planID, summary, s.TaskQueue), workflows.BulkRetryWorkflow,
		workflows.BulkInput{PlanID: planID, What: what, Total: p.Matched, RatePerSecond: pace.RatePerSecond})
	if err != nil {
		return nil, fmt.Errorf("start the run of bulk plan %s: %w", planID, err)
	}
	s.Log.Info("bulk repair started", "plan_id", planID, "what", what, "matched", p.Matched, "created_by", p.CreatedBy,
		"workflow_id", run.GetID(), "run_id", run.GetRunID())
	return s.Status(ctx, planID)
}

// Status says where a plan stands, and how far its run got.
func (s *Service) Status(ctx context.Context, planID string) (*Status, error) {
	p, err := s.Store.GetBulkPlan(ctx, planID)
	if err != nil {
		return nil, err
	}
	st := &Status{PlanID: p.ID, What: p.What, Matched: p.Matched, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt,
		State: StatePlanned, StartedAt: p.StartedAt}
	if p.WorkflowID == nil {
		return st, nil
	}
	desc, err := s.Temporal.DescribeWorkflowExecution(ctx, *p.WorkflowID, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return st, nil // recorded, but its start failed: running the plan again starts it
	} else if err != nil {
		return nil, fmt.Errorf("describe %s: %w", *p.WorkflowID, err)
	}
	st.WorkflowID = *p.WorkflowID
	switch desc.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		st.State = StateRunning
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		st.State = StateCompleted
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		st.State = StateCancelled
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		st.State = StateFailed
	default:
		st.State = StateStopped
	}
	// A closed run answers too: a worker replays it.
	if v, err := s.Temporal.QueryWorkflow(ctx, st.WorkflowID, "", workflows.QueryBulkProgress); err != nil {
		s.Log.Warn("bulk repair's progress not known", "plan_id", planID, "workflow_id", st.WorkflowID, "error", err)
	} else {
		var progress workflows.BulkProgress
		if err := v.Get(&progress); err == nil {
			st.Progress = &progress
		}
	}
	return st, nil
}

// Cancel asks a plan's run to stop: it finishes the batch under way and ends as cancelled. A run that
// ended stays as it ended; a plan never run is ErrNotRun.
func (s *Service) Cancel(ctx context.Context, planID string) (*Status, error) {
	st, err := s.Status(ctx, planID)
	switch {
	case err != nil:
		return nil, err
	case st.State == StatePlanned:
		return nil, fmt.Errorf("bulk plan %s: %w", planID, ErrNotRun)
	case st.State != StateRunning:
		return st, nil
	}
	if err := s.Temporal.CancelWorkflow(ctx, st.WorkflowID, ""); err != nil {
		return nil, fmt.Errorf("cancel %s: %w", st.WorkflowID, err)
	}
	s.Log.Info("bulk repair cancelled", "plan_id", planID, "workflow_id", st.WorkflowID)
	return s.Status(ctx, planID)
}
