package workflows

import (
	"fmt"
	"math"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/payload"
)

// QueryBulkProgress answers how far a bulk repair got (a BulkProgress).
const QueryBulkProgress = "progress"

// BulkWorkflowID is the ID of the workflow that runs a bulk repair's plan: "bulk/{plan_id}". One plan has
// one run, however often it is confirmed.
func BulkWorkflowID(planID string) string { return "bulk/" + planID }

// BulkStartOptions start the run of a plan on queue (TaskQueueOr): a plan confirmed twice finds its
// run, open or closed, rather than running again.
func BulkStartOptions(planID, summary, queue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       BulkWorkflowID(planID),
		TaskQueue:                TaskQueueOr(queue),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		StaticSummary:            payload.CutJSON(summary, payload.SummaryTextLimit),
	}
}

// Bounds of a bulk repair's run.
const (
	// BulkDefaultRate is how many repairs a second a plan makes when it does not say.
	BulkDefaultRate = 10.0
	// BulkBatchSize is the most IDs one activity repairs: a run of a thousand costs some tens of actions.
	BulkBatchSize = 50
	// bulkBatchTime is about how long one batch takes at the plan's rate, at most: a cancellation takes
	// effect between batches, so within about this time.
	bulkBatchTime = 5 * time.Second
)

// BulkInput is a bulk repair's plan as its run takes it: the plan's ID (its IDs are read from the store
// a batch at a time), what it repairs, how many, and how fast.
type BulkInput struct {
	PlanID string `json:"plan_id"`
	// What is store.BulkFollowUps or activities.RepairDeadLetters.
	What          string  `json:"what"`
	Total         int     `json:"total"`
	RatePerSecond float64 `json:"rate_per_second"`
}

// BulkProgress is how far a bulk repair got: what its current details say in words, its query
// (QueryBulkProgress) and its result (or, when it was cancelled, its cancellation's details).
type BulkProgress struct {
	Total int `json:"total"`
	// Done were looked at: Repaired + Skipped + Failed.
	Done     int `json:"done"`
	Repaired int `json:"repaired"`
	Skipped  int `json:"skipped"`
	Failed   int `json:"failed"`
	// Errors are the first reasons of failures.
	Errors    []string `json:"errors,omitempty"`
	Cancelled bool     `json:"cancelled,omitempty"`
}

// maxBulkErrors is how many failures a run reports in words.
const maxBulkErrors = 20

// Left is how many the run has not looked at.
func (p BulkProgress) Left() int { return p.Total - p.Done }

func (p *BulkProgress) add(n int, res activities.RepairBatchResult) {
	p.Done += n
	p.Repaired += res.Repaired
	p.Skipped += res.Skipped
	p.Failed += res.Failed
	for _, e := range res.Errors {
		if len(p.Errors) < maxBulkErrors {
			p.Errors = append(p.Errors, e)
		}
	}
}

// text says how far the run got, for its current details: "Retried 120 of 500 follow-ups; 3 skipped (no
// longer failed); 1 failed".
func (p *BulkProgress) text(what string) string {
	verb, noun, skipped := bulkWords(what)
	s := fmt.Sprintf("%s %d of %d %s", verb, p.Repaired, p.Total, noun)
	if p.Skipped > 0 {
		s += fmt.Sprintf("; %d skipped (%s)", p.Skipped, skipped)
	}
	if p.Failed > 0 {
		s += fmt.Sprintf("; %d could not be: %s", p.Failed, p.Errors[0])
	}
	if p.Cancelled {
		s += fmt.Sprintf("; cancelled after %d, %d left as they were", p.Done, p.Total-p.Done)
	}
	return payload.CutJSON(s, payload.DetailsTextLimit)
}

// bulkWords are the words of a run's progress: what it does, to what, and why it skips some.
func bulkWords(what string) (verb, noun, skipped string) {
	if what == activities.RepairDeadLetters {
		return "Replayed", "dead letters", "no longer dead"
	}
	return "Retried", "follow-ups", "no longer failed or needing review"
}

// bulkBatch is how many IDs one batch takes at rate: about bulkBatchTime of work, at most BulkBatchSize.
func bulkBatch(rate float64) int {
	return max(1, min(BulkBatchSize, int(math.Ceil(rate*bulkBatchTime.Seconds()))))
}

// BulkRetryWorkflow runs a bulk repair's plan: it retries the plan's follow-ups (as POST
// /v1/follow-ups/{id}/retry retries one) or replays its dead letters, a batch at a time (one activity
// each, RepairBatch, which skips what no longer needs it), at the plan's rate, which holds across
// batches too. Its current details and its query (QueryBulkProgress) say how far it got. Cancelled, it
// lets the batch under way finish, stops, and ends as cancelled with its progress as the details.
func BulkRetryWorkflow(ctx workflow.Context, in BulkInput) (*BulkProgress, error) {
	p := &BulkProgress{Total: in.Total}
	if err := workflow.SetQueryHandler(ctx, QueryBulkProgress, func() (BulkProgress, error) { return *p, nil }); err != nil {
		return nil, err
	}
	rate := in.RatePerSecond
	if rate <= 0 {
		rate = BulkDefaultRate
	}
	batch := bulkBatch(rate)
	workflow.SetCurrentDetails(ctx, p.text(in.What))
	_, noun, _ := bulkWords(in.What)
	var a *activities.Activities
	for p.Done < p.Total && ctx.Err() == nil {
		began := workflow.Now(ctx)
		n := min(batch, p.Total-p.Done)
		took := time.Duration(float64(n) / rate * float64(time.Second))
		// A batch under way finishes when the run is cancelled, so that the counts say what was done.
		bctx, _ := workflow.NewDisconnectedContext(ctx)
		bctx = workflow.WithActivityOptions(bctx, workflow.ActivityOptions{
			Summary: fmt.Sprintf("%s %d–%d of %d", noun, p.Done+1, p.Done+n, p.Total),
			// The batch waits its rate between repairs; each repair is a read and a signal or an update.
			StartToCloseTimeout: took + 2*time.Minute,
			HeartbeatTimeout:    max(time.Minute, 3*time.Duration(float64(time.Second)/rate)),
			// PostgreSQL or Temporal may be away a while: the batch goes on from its heartbeat.
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 20},
		})
		var res activities.RepairBatchResult
		err := workflow.ExecuteActivity(bctx, a.RepairBatch, activities.RepairBatchInput{
			PlanID: in.PlanID, What: in.What, Offset: p.Done, Limit: n, RatePerSecond: rate,
		}).Get(bctx, &res)
		if err != nil {
			workflow.SetCurrentDetails(ctx, p.text(in.What)+fmt.Sprintf("; stopped at %d: %v", p.Done+1, err))
			return p, err
		}
		p.add(n, res)
		workflow.SetCurrentDetails(ctx, p.text(in.What))
		// The next batch begins no sooner than this one's share of the rate after this one began.
		if wait := began.Add(took).Sub(workflow.Now(ctx)); wait > 0 && p.Done < p.Total {
			_ = workflow.Sleep(ctx, wait) // cancelled: the loop ends
		}
	}
	if ctx.Err() != nil {
		p.Cancelled = true
		workflow.SetCurrentDetails(ctx, p.text(in.What))
		return p, temporal.NewCanceledError(*p)
	}
	return p, nil
}
