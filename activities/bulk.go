package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/rudderhook/rudderhook/store"
)

// FollowUpRetrier hands a follow-up's retry to its subject's workflow, as POST /v1/follow-ups/{id}/retry
// does: repair.Service, which cmd wires (starting a workflow needs the workflows package, which imports
// this one). It refuses a follow-up that is not failed or needing review with ErrNotRetryable.
type FollowUpRetrier interface {
	RetryFollowUp(ctx context.Context, rec *store.FollowUpRecord) (client.WorkflowRun, error)
}

// ErrNotRetryable means a follow-up was asked to run again that is neither failed nor needing review: a
// retry never repeats what succeeded, nor starts what is still running.
var ErrNotRetryable = errors.New("only a failed follow-up, or one that needs review, can be retried")

// What a bulk repair repairs, as its plan says (store's names, for workflow code, which may not import
// store).
const (
	RepairFollowUps   = store.BulkFollowUps
	RepairDeadLetters = store.BulkDeadLetters
)

// RepairBatchInput is one batch of a bulk repair's plan: the IDs at Offset.. Offset+Limit-1 of it.
type RepairBatchInput struct {
	PlanID string `json:"plan_id"`
	// What is RepairFollowUps (retry them) or RepairDeadLetters (replay them).
	What   string `json:"what"`
	Offset int    `json:"offset"`
	Limit  int    `json:"limit"`
	// RatePerSecond spaces the batch's repairs evenly, so that a batch is no burst.
	RatePerSecond float64 `json:"rate_per_second"`
}

// RepairBatchResult counts what a batch did with its IDs.
type RepairBatchResult struct {
	// Repaired were retried (their subject's workflow took the retry) or replayed (due again).
	Repaired int `json:"repaired"`
	// Skipped no longer needed it: a follow-up that is not failed or needing review any more (retried or
	// succeeded since the plan), a dead letter that is not dead any more, or one deleted.
	Skipped int `json:"skipped"`
	// Failed could not be repaired, each for a reason that retrying cannot fix (Errors has the first).
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"`
}

// maxBatchErrors is how many failures a batch reports in words.
const maxBatchErrors = 5

// repairHeartbeat is how far an attempt of RepairBatch got: a later attempt goes on from there, so that
// nothing is repaired twice by one run.
type repairHeartbeat struct {
	Next   int               `json:"next"`
	Result RepairBatchResult `json:"result"`
}

// RepairBatch repairs one batch of a bulk repair's plan, at the plan's rate: each follow-up still failed
// or needing review is retried as POST /v1/follow-ups/{id}/retry retries one, each dead letter still dead
// is replayed as POST /v1/inbox/{id}/replay replays one. What no longer needs it is skipped, what cannot
// be repaired is counted with its reason, and a passing failure (PostgreSQL or Temporal unreachable) fails
// the attempt, which Temporal retries from where its heartbeat says it got.
func (a *Activities) RepairBatch(ctx context.Context, in RepairBatchInput) (*RepairBatchResult, error) {
	ids, err := a.Store.BulkPlanIDs(ctx, in.PlanID, in.Offset, in.Limit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "PlanNotFound", err)
	} else if err != nil {
		return nil, err
	}
	var hb repairHeartbeat
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &hb); err != nil {
			hb = repairHeartbeat{}
		}
	}
	res := hb.Result
	every := rate.Inf
	if in.RatePerSecond > 0 {
		every = rate.Limit(in.RatePerSecond)
	}
	limit := rate.NewLimiter(every, 1)
	for i := hb.Next; i < len(ids); i++ {
		if err := limit.Wait(ctx); err != nil {
			return nil, err
		}
		reason, err := a.repairOne(ctx, in.What, ids[i])
		switch {
		case errors.Is(err, errSkipped):
			res.Skipped++
		case errors.Is(err, errCannotRepair):
			res.Failed++
			if len(res.Errors) < maxBatchErrors {
				res.Errors = append(res.Errors, reason)
			}
		case err != nil:
			return nil, err
		default:
			res.Repaired++
		}
		activity.RecordHeartbeat(ctx, repairHeartbeat{Next: i + 1, Result: res})
	}
	a.Log.Info("bulk repair batch", "plan_id", in.PlanID, "what", in.What, "offset", in.Offset, "ids", len(ids),
		"repaired", res.Repaired, "skipped", res.Skipped, "failed", res.Failed)
	return &res, nil
}

var (
	errSkipped      = errors.New("skipped")
	errCannotRepair = errors.New("cannot be repaired")
)

// repairOne repairs one ID of a plan: nil, errSkipped, errCannotRepair (with the reason), or a passing
// failure.
func (a *Activities) repairOne(ctx context.Context, what string, id int64) (reason string, err error) {
	switch what {
	case RepairFollowUps:
		if a.Retrier == nil {
			return "", temporal.NewNonRetryableApplicationError("this worker cannot retry follow-ups: it was started without a retrier", "NoRetrier", nil)
		}
		rec, err := a.Store.GetFollowUp(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return "", errSkipped
		} else if err != nil {
			return "", err
		}
		_, err = a.Retrier.RetryFollowUp(ctx, rec)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		var invalid *serviceerror.InvalidArgument
		switch {
		case errors.Is(err, ErrNotRetryable):
			return "", errSkipped
		case errors.Is(err, store.ErrNotFound), errors.As(err, &started), errors.As(err, &invalid):
			return fmt.Sprintf("follow-up %d: %v", id, err), errCannotRepair
		}
		return "", err
	case RepairDeadLetters:
		_, err := a.Store.ReplayInbox(ctx, id)
		if errors.Is(err, store.ErrNotDead) || errors.Is(err, store.ErrNotFound) {
			return "", errSkipped
		}
		return "", err
	}
	return "", temporal.NewNonRetryableApplicationError("a plan of "+what+" cannot be run", "UnknownPlan", nil)
}
