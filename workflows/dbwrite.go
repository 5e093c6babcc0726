package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// dbRetry keeps a database write trying while PostgreSQL is down, backing off to once a minute. Data that
// the database refuses fails at once: the activities return it as a non-retryable error.
var dbRetry = &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute}

// localRetryBudget is how long a local activity keeps retrying: without it the SDK stops at the first
// attempt's timeout, where an activity on the task queue retries for as long as the database is down.
const localRetryBudget = 30 * 24 * time.Hour

// dbWrite runs one short database write of a workflow (storing, planning, bookkeeping): a local activity
// when local is set (from changeLocalActivities on: no task queue round trip and no history events of
// its own; its result is recorded with the workflow task, and one that ran before a crash runs again,
// which every such write allows: they upsert by key), an activity on the task queue before.
func dbWrite(ctx workflow.Context, local bool, summary string, activity, arg any) workflow.Future {
	if local {
		return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			Summary:                summary,
			StartToCloseTimeout:    10 * time.Second, // under the workflow task timeout, so a hung query is retried soon
			ScheduleToCloseTimeout: localRetryBudget,
			RetryPolicy:            dbRetry,
		}), activity, arg)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             summary,
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         dbRetry,
	}), activity, arg)
}
