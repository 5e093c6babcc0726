// Package workflows holds rudderhook's deterministic workflow code and the names that identify its
// executions (IDs, task queue, search attributes). Workflow code does no I/O and reads no clock or
// randomness except through the SDK; everything that touches the world is an activity.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
)

// CallCompletedInput is the input of CallCompletedWorkflow: one call as received.
type CallCompletedInput struct {
	Call airudder.ReceivedCall `json:"call"`
}

// CallCompletedResult is what the workflow reports when it completes.
type CallCompletedResult struct {
	Stored bool `json:"stored"`
}

// CallCompletedWorkflow handles one call that Airudder reported as ended: it stores the call, then
// (from the follow-ups issue on) decides and carries out the follow-ups for its outcome.
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
	if err := workflow.ExecuteActivity(persistCtx, a.PersistCall, activities.PersistCallInput{Call: in.Call}).Get(ctx, nil); err != nil {
		return nil, err
	}
	// The API sets these at start; setting them again keeps executions started another way (a reset, the
	// CLI) findable too.
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttributes(in.Call)...); err != nil {
		log.Warn("set search attributes", "error", err)
	}
	workflow.SetCurrentDetails(ctx, "Stored")
	return &CallCompletedResult{Stored: true}, nil
}
