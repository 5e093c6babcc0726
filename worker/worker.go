// Package worker registers rudderhook's workflows and activities with a Temporal worker. It is the one
// place that knows which code runs on the task queue; cmd decides where and when it runs.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/workflows"
)

// Register adds every workflow and activity to r. SubjectWorkflow handles every subject received now;
// CallCompletedWorkflow, EventWorkflow and FollowUpWorkflow, which handled calls, events and follow-ups
// before it, stay registered for their executions still open (a follow-up waiting days for its date)
// until none is. BulkRetryWorkflow runs an operator's bulk repair; ReconcileWorkflow and
// ExpectationsWorkflow run on the Schedules EnsureSchedules keeps.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.SubjectWorkflow, workflow.RegisterOptions{Name: workflows.SubjectWorkflowType})
	r.RegisterWorkflow(workflows.CallCompletedWorkflow)
	r.RegisterWorkflow(workflows.FollowUpWorkflow)
	r.RegisterWorkflow(workflows.EventWorkflow)
	r.RegisterWorkflow(workflows.BulkRetryWorkflow)
	r.RegisterWorkflowWithOptions(workflows.ReconcileWorkflow, workflow.RegisterOptions{Name: workflows.ReconcileWorkflowType})
	r.RegisterWorkflowWithOptions(workflows.ExpectationsWorkflow, workflow.RegisterOptions{Name: workflows.ExpectationsWorkflowType})
	r.RegisterActivity(acts)
}

// New returns a worker on the task queue (TEMPORAL_TASK_QUEUE; empty: workflows.TaskQueue) with
// everything registered, polling as Polling says; the caller starts and stops it.
func New(c client.Client, queue string, acts *activities.Activities, opts sdkworker.Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueueOr(queue), Polling(opts))
	Register(w, acts)
	return w
}

// Polling sets how a worker polls for tasks, unless opts says: pollers that the SDK scales with the
// tasks waiting (its defaults: 5 at first, 1 to 100 per kind of task) instead of its fixed two. With
// two, a burst of calls waited for workflow tasks while the machine sat idle: `rudderhook bench`
// completed calls end to end at 0.45-0.50 of the empty workflow's rate with them, 0.58-0.62 with scaling
// pollers (docs/benchmarks.md). The bench's empty-workflow ceiling polls the same way.
func Polling(opts sdkworker.Options) sdkworker.Options {
	if opts.WorkflowTaskPollerBehavior == nil && opts.MaxConcurrentWorkflowTaskPollers == 0 {
		opts.WorkflowTaskPollerBehavior = sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{})
	}
	if opts.ActivityTaskPollerBehavior == nil && opts.MaxConcurrentActivityTaskPollers == 0 {
		opts.ActivityTaskPollerBehavior = sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{})
	}
	return opts
}
