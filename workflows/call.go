// Package workflows holds rudderhook's deterministic workflow code and the names that identify its
// executions (IDs, task queue, search attributes). Workflow code does no I/O and reads no clock or
// randomness except through the SDK; everything that touches the world is an activity.
package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
)

// CallCompletedInput is the input of CallCompletedWorkflow: one call as received.
type CallCompletedInput struct {
	Call airudder.ReceivedCall `json:"call"`
	// Slim says that Call is a slim copy of a large call that the receiver stored before starting the
	// workflow; activities read the whole call from the store. (Its JSON name is from when it was called
	// Stored, kept so that executions started before the rename read it the same.)
	Slim bool `json:"stored,omitempty"`
}

// CallCompletedResult is what the workflow reports when it completes.
type CallCompletedResult struct {
	RuleVersion int64                `json:"rule_version,omitempty"`
	Matched     []string             `json:"matched_rules,omitempty"`
	FollowUps   map[rules.Status]int `json:"follow_ups,omitempty"` // how many ended in each status
}

// changeFollowUps marks the version of CallCompletedWorkflow that plans and runs follow-ups after
// storing the call. Executions started before it replay without them.
const changeFollowUps = "follow-ups"

// CallCompletedWorkflow handles one call that Airudder reported as ended: it stores the call, then decides
// the follow-ups for its outcome with the rules in force and carries each out as a child workflow.
func CallCompletedWorkflow(ctx workflow.Context, in CallCompletedInput) (*CallCompletedResult, error) {
	var a *activities.Activities
	log := workflow.GetLogger(ctx)

	workflow.SetCurrentDetails(ctx, "Storing the call in PostgreSQL")
	persistCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             "Store call " + in.Call.Key + " in PostgreSQL",
		StartToCloseTimeout: 30 * time.Second,
		// The database may be down for a while: keep trying, backing off to once a minute. Data that the
		// database refuses fails at once (a non-retryable InvalidCallData error).
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
	if err := workflow.ExecuteActivity(persistCtx, a.PersistCall, activities.PersistCallInput{Call: in.Call, Slim: in.Slim}).Get(ctx, nil); err != nil {
		return nil, err
	}
	// The API sets these at start; setting them again keeps executions started another way (a reset, the
	// CLI) findable too.
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttributes(in.Call)...); err != nil {
		log.Warn("set search attributes", "error", err)
	}
	result := &CallCompletedResult{}
	if workflow.GetVersion(ctx, changeFollowUps, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		workflow.SetCurrentDetails(ctx, "Stored")
		return result, nil
	}

	workflow.SetCurrentDetails(ctx, "Deciding follow-ups")
	planCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             "Decide follow-ups with the rules in force",
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
	var plan activities.PlanResult
	if err := workflow.ExecuteActivity(planCtx, a.PlanFollowUps, activities.PlanInput{Call: in.Call, Slim: in.Slim}).Get(ctx, &plan); err != nil {
		return nil, err
	}
	result.RuleVersion, result.Matched = plan.RuleVersion, plan.Matched
	result.FollowUps = runFollowUps(ctx, in.Call, plan)
	workflow.SetCurrentDetails(ctx, followUpsDetails(plan, result.FollowUps))
	return result, nil
}

// runFollowUps runs each planned follow-up as a child workflow, all at once, and counts how they ended.
// A failed follow-up does not fail the call: it is recorded, shown, and retried by an operator.
func runFollowUps(ctx workflow.Context, call airudder.ReceivedCall, plan activities.PlanResult) map[rules.Status]int {
	counts := map[rules.Status]int{}
	parentID := workflow.GetInfo(ctx).WorkflowExecution.ID
	type running struct {
		fu     activities.PlannedFollowUp
		future workflow.ChildWorkflowFuture
	}
	var children []running
	for _, fu := range plan.FollowUps {
		if fu.Status.Settled() || fu.Status.RunsOnlyWhenRetried() {
			counts[fu.Status]++ // settled by an earlier run of this workflow, or waiting for an operator
			continue
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            FollowUpWorkflowID(parentID, fu.Plan.RuleID, fu.Plan.Action),
			StaticSummary:         fu.Plan.Summary,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			TypedSearchAttributes: temporal.NewSearchAttributes(SearchAttributes(call)...),
		})
		children = append(children, running{fu, workflow.ExecuteChildWorkflow(cctx, FollowUpWorkflow, FollowUpInput{FollowUp: fu.Plan})})
	}
	log := workflow.GetLogger(ctx)
	for _, c := range children {
		var res FollowUpResult
		if err := c.future.Get(ctx, &res); err != nil {
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.Type() == ErrTypeNeedsReview {
				log.Warn("follow-up needs review", "follow_up", c.fu.Plan.Key, "error", err)
				counts[rules.StatusNeedsReview]++
				continue
			}
			log.Warn("follow-up failed", "follow_up", c.fu.Plan.Key, "error", err)
			counts[rules.StatusFailed]++
			continue
		}
		counts[res.Status]++
	}
	return counts
}

func followUpsDetails(plan activities.PlanResult, counts map[rules.Status]int) string {
	if len(plan.FollowUps) == 0 {
		return fmt.Sprintf("Stored; no rule of version %d matched", plan.RuleVersion)
	}
	s := fmt.Sprintf("Stored; rules %v (version %d) planned %d follow-ups:", plan.Matched, plan.RuleVersion, len(plan.FollowUps))
	for _, st := range rules.Statuses {
		if counts[st] > 0 {
			s += fmt.Sprintf(" %d %s", counts[st], st)
		}
	}
	return s
}
