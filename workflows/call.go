// Package workflows holds rudderhook's deterministic workflow code and the names that identify its
// executions (IDs, task queue, search attributes). Workflow code does no I/O and reads no clock or
// randomness except through the SDK; everything that touches the world is an activity.
package workflows

import (
	"errors"
	"fmt"
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/payload"
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
	// Revisions are the revisions of the call this run processed, in order.
	Revisions []int `json:"revisions,omitempty"`
}

// changeFollowUps marks the version of CallCompletedWorkflow that plans and runs follow-ups after
// storing the call. Executions started before it replay without them.
const changeFollowUps = "follow-ups"

// changeRevisions marks the version that processes revisions (SignalRevision) while its follow-ups run,
// sets search attributes only from the latest revision, and says in its details which revision it
// processed. Executions started before it handle revision signals only once their follow-ups have ended.
const changeRevisions = "revisions"

// changeLocalActivities marks the version that stores the call and plans its follow-ups with local
// activities: short database writes that need neither a task queue round trip nor history events of their
// own. A local activity's result is recorded when the workflow task completes; one that ran before a
// crash runs again, which PersistCall and PlanFollowUps allow (they upsert by the call's key and the
// follow-ups' idempotency keys).
const changeLocalActivities = "local-activities"

// CallCompletedWorkflow handles one call that Airudder reported as ended: it stores the call, then decides
// the follow-ups for its outcome with the rules in force and carries each out as a child workflow. Every
// revision of the call (a corrected redelivery, SignalRevision) is processed the same way by the run that
// is open when it arrives, or by a new run: stored, and planned (a follow-up already planned for the call
// is never planned twice: its idempotency key is per call, rule and action). It completes when its
// follow-ups have ended and no revision is pending.
func CallCompletedWorkflow(ctx workflow.Context, in CallCompletedInput) (*CallCompletedResult, error) {
	revisions := workflow.GetSignalChannel(ctx, SignalRevision)
	run := &callRun{
		version:  workflow.GetVersion(ctx, changeRevisions, workflow.DefaultVersion, 1),
		local:    workflow.GetVersion(ctx, changeLocalActivities, workflow.DefaultVersion, 1) >= 1,
		seen:     map[string]bool{},
		launched: map[string]bool{},
		result:   &CallCompletedResult{},
	}
	if err := run.process(ctx, in); err != nil {
		return nil, err
	}
	for {
		// Revisions are taken while follow-ups run (from changeRevisions on), and any left are drained
		// before completing: a signal that arrives as the run completes makes Temporal retry the completion
		// after delivering it, so none is lost.
		_ = workflow.Await(ctx, func() bool {
			return run.running == 0 || (run.version >= 1 && revisions.Len() > 0)
		})
		var next CallCompletedInput
		if !revisions.ReceiveAsync(&next) {
			break
		}
		if err := run.process(ctx, next); err != nil {
			// The call's earlier revisions and their follow-ups stand; this one is shown and logged.
			workflow.GetLogger(ctx).Error("revision not processed", "digest", next.Call.Digest, "error", err)
			workflow.SetCurrentDetails(ctx, fmt.Sprintf("A revision (digest %.12s) could not be processed: %v", next.Call.Digest, err))
		}
	}
	if run.plan != nil {
		run.result.FollowUps = run.counts
		workflow.SetCurrentDetails(ctx, run.details())
	}
	return run.result, nil
}

// callRun is the state of one run of CallCompletedWorkflow.
type callRun struct {
	version  workflow.Version
	local    bool            // store and plan with local activities (changeLocalActivities)
	seen     map[string]bool // digests of the revisions processed
	launched map[string]bool // idempotency keys of the follow-ups started (or found settled)
	running  int             // follow-up children not yet ended
	counts   map[rules.Status]int
	plan     *activities.PlanResult // the last plan
	revision int                    // the last revision stored
	result   *CallCompletedResult
}

// process stores one revision of the call and, from changeFollowUps on, plans its follow-ups and starts
// those not started yet.
func (r *callRun) process(ctx workflow.Context, in CallCompletedInput) error {
	if in.Call.Digest != "" {
		if r.seen[in.Call.Digest] {
			return nil // the same delivery again
		}
		r.seen[in.Call.Digest] = true
	}
	var a *activities.Activities
	log := workflow.GetLogger(ctx)

	workflow.SetCurrentDetails(ctx, "Storing the call in PostgreSQL")
	// The database may be down for a while: keep trying (dbRetry). Data that the database refuses fails at
	// once (a non-retryable InvalidCallData error).
	var stored activities.PersistResult
	persisted := dbWrite(ctx, r.local, payload.CutJSON("Store call "+in.Call.Key+" in PostgreSQL", payload.SummaryTextLimit),
		a.PersistCall, activities.PersistCallInput{Call: in.Call, Slim: in.Slim})
	if err := persisted.Get(ctx, &stored); err != nil {
		return err
	}
	r.revision = stored.Revision
	if stored.Revision > 0 {
		r.result.Revisions = append(r.result.Revisions, stored.Revision)
	}
	// The API sets these at start; setting them again keeps executions started another way (a reset, the
	// CLI) findable too, and a later revision's values replace the first's.
	if r.version == workflow.DefaultVersion || stored.Latest {
		if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttributes(in.Call)...); err != nil {
			log.Warn("set search attributes", "error", err)
		}
	}
	if workflow.GetVersion(ctx, changeFollowUps, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		workflow.SetCurrentDetails(ctx, "Stored")
		return nil
	}

	workflow.SetCurrentDetails(ctx, r.revisionText()+"Deciding follow-ups")
	planned := dbWrite(ctx, r.local, "Decide follow-ups with the rules in force", a.PlanFollowUps, activities.PlanInput{Call: in.Call, Slim: in.Slim})
	var plan activities.PlanResult
	if err := planned.Get(ctx, &plan); err != nil {
		return err
	}
	r.plan = &plan
	r.result.RuleVersion = plan.RuleVersion
	r.result.Matched = mergeMatched(r.result.Matched, plan.Matched)
	r.startFollowUps(ctx, SearchAttributes(in.Call), plan)
	workflow.SetCurrentDetails(ctx, r.details())
	return nil
}

// startFollowUps runs each planned follow-up not started yet as a child workflow, and counts how they
// end. A failed follow-up does not fail the call: it is recorded, shown, and retried by an operator.
func (r *callRun) startFollowUps(ctx workflow.Context, attrs []temporal.SearchAttributeUpdate, plan activities.PlanResult) {
	if r.counts == nil {
		r.counts = map[rules.Status]int{}
	}
	parentID := workflow.GetInfo(ctx).WorkflowExecution.ID
	log := workflow.GetLogger(ctx)
	for _, fu := range plan.FollowUps {
		if r.launched[fu.Plan.Key] {
			continue // started for an earlier revision of the call
		}
		r.launched[fu.Plan.Key] = true
		if fu.Status.Settled() || fu.Status.RunsOnlyWhenRetried() {
			r.counts[fu.Status]++ // settled by an earlier run of this workflow, or waiting for an operator
			continue
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            FollowUpWorkflowID(parentID, fu.Plan.RuleID, fu.Plan.Action),
			StaticSummary:         fu.Plan.Summary,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			TypedSearchAttributes: temporal.NewSearchAttributes(attrs...),
		})
		future := workflow.ExecuteChildWorkflow(cctx, FollowUpWorkflow, FollowUpInput{FollowUp: fu.Plan})
		r.running++
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { r.running-- }()
			var res FollowUpResult
			if err := future.Get(ctx, &res); err != nil {
				var appErr *temporal.ApplicationError
				if errors.As(err, &appErr) && appErr.Type() == ErrTypeNeedsReview {
					log.Warn("follow-up needs review", "follow_up", fu.Plan.Key, "error", err)
					r.counts[rules.StatusNeedsReview]++
					return
				}
				log.Warn("follow-up failed", "follow_up", fu.Plan.Key, "error", err)
				r.counts[rules.StatusFailed]++
				return
			}
			r.counts[res.Status]++
		})
	}
}

func mergeMatched(have, more []string) []string {
	for _, m := range more {
		if !slices.Contains(have, m) {
			have = append(have, m)
		}
	}
	return have
}

// revisionText names the revision last stored, from changeRevisions on.
func (r *callRun) revisionText() string {
	if r.version == workflow.DefaultVersion || r.revision == 0 {
		return ""
	}
	return fmt.Sprintf("Revision %d: ", r.revision)
}

func (r *callRun) details() string {
	return r.revisionText() + followUpsDetails(*r.plan, r.counts)
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
