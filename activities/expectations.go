package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// A re-call Airudder took is expected to complete (store/expectations.go): one whose deadline passes is
// overdue and fires the rules on recall_overdue (SweepExpectations); one whose outcome was unknown is
// settled by asking Airudder where the callee went (SettleByAsking) before a person has to look.

var (
	overdueTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rudderhook_recalls_overdue_total",
		Help: "Re-calls Airudder took whose call did not complete by their deadline (expect_within): their follow-ups became overdue.",
	})
	settledTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rudderhook_recalls_settled_by_asking_total",
		Help: "Re-calls of unknown outcome settled by asking Airudder, by outcome: succeeded (Airudder shows it took effect), needs_review (it shows nothing, or could not be asked).",
	}, []string{"outcome"})
)

// SweepResult is what a sweep of the expectations did.
type SweepResult struct {
	// Overdue are the follow-ups that became overdue; Fired the recall_overdue events handed to their
	// workflows.
	Overdue int `json:"overdue"`
	Fired   int `json:"fired"`
}

// sweepBatch is how many overdue re-calls one round of a sweep fires.
const sweepBatch = 100

// SweepExpectations makes the re-calls whose deadline passed overdue, then hands a recall_overdue event
// for each (not fired yet) to its workflow through the receiver's path, so that the rules on
// recall_overdue plan what happens next. Run again, it fires nothing twice: an event is marked fired
// once its workflow has it, and its key makes a repeated start one workflow.
func (a *Activities) SweepExpectations(ctx context.Context) (*SweepResult, error) {
	if a.Starter == nil {
		return nil, temporal.NewNonRetryableApplicationError("this worker cannot start workflows (no SubjectStarter)", ErrTypeReconcileConfig, nil)
	}
	now := a.now()
	n, err := a.Store.MarkOverdue(ctx, now)
	if err != nil {
		return nil, classifyDBError(err)
	}
	overdueTotal.Add(float64(n))
	out := &SweepResult{Overdue: n}
	for {
		list, err := a.Store.UnfiredOverdue(ctx, sweepBatch)
		if err != nil || len(list) == 0 {
			return out, classifyDBError(err)
		}
		subjects := make([]airudder.Subject, 0, len(list))
		ids := make([]int64, 0, len(list))
		for _, o := range list {
			ev, err := a.overdueEvent(ctx, o, now)
			if err != nil {
				return nil, err
			}
			subjects = append(subjects, airudder.EventSubject(ev))
			ids = append(ids, o.FollowUp.ID)
		}
		if err := a.Starter.StartSubjects(ctx, subjects); err != nil {
			return nil, fmt.Errorf("hand %d recall_overdue events to their workflows: %w", len(subjects), err)
		}
		if err := a.Store.MarkFired(ctx, ids); err != nil {
			return nil, classifyDBError(err)
		}
		out.Fired += len(ids)
		a.Log.Info("re-calls overdue: recall_overdue events handed to their workflows", "count", len(ids))
	}
}

// overdueEvent is the recall_overdue event of an overdue re-call, of its subject's source, with what the
// re-called call said.
func (a *Activities) overdueEvent(ctx context.Context, o store.OverdueRecall, now time.Time) (airudder.Event, error) {
	fu := o.FollowUp
	ro := airudder.RecallOverdue{FollowUpKey: fu.Key, RuleID: fu.RuleID, Action: fu.Action, Callee: fu.CalleeNumber,
		AirudderWorkflowID: o.AirudderWorkflowID, RequestedAt: o.Since, Deadline: o.Deadline}
	if fu.Plan.Recall != nil && fu.Plan.Recall.Callee != "" {
		ro.Callee = fu.Plan.Recall.Callee
	}
	subj, err := a.Store.GetSubject(ctx, fu.SubjectID)
	if err != nil {
		return airudder.Event{}, fmt.Errorf("read the subject of overdue follow-up %s: %w", fu.Key, err)
	}
	if subj.Call != nil {
		ro.Call = airudder.OverdueCallOf(*subj.Call)
	}
	var numbers airudder.NumberKeys
	if src := a.Sources[fu.Source]; src != nil {
		numbers = src.Numbers
	}
	return airudder.RecallOverdueEvent(fu.Source, ro, now, numbers)
}

// SettleInput names a re-call follow-up that ended needs_review.
type SettleInput struct {
	Key string `json:"key"`
}

// SettleResult is what asking Airudder settled: the follow-up's status now, and what was found.
type SettleResult struct {
	Status             rules.Status `json:"status"`
	Found              string       `json:"found"`
	AirudderWorkflowID string       `json:"airudder_workflow_id,omitempty"`
}

// settleLookback is how long before its follow-up was planned a re-call's instance may show as created
// (clocks differ; the attempt came after the planning).
const settleLookback = time.Hour

// SettleByAsking asks Airudder whether a re-call whose outcome was unknown took effect: detailinstances
// for the callee, from before the re-call until now. The callee is in the re-call's own workflow
// (uploaddetails), or in an instance created since with the instance name the re-call asked for
// (createinstance): the re-call took effect, and the follow-up becomes succeeded, expecting its call like
// any re-call Airudder took. Otherwise it stays needs_review, with what was found added to its last
// error for the person who looks. A follow-up no longer needs_review (an operator acted) is left as it is.
func (a *Activities) SettleByAsking(ctx context.Context, in SettleInput) (*SettleResult, error) {
	rec, err := a.Store.FollowUpByKey(ctx, in.Key)
	if err != nil {
		return nil, classifyDBError(err)
	}
	req := rec.Plan.Recall
	if rec.Status != rules.StatusNeedsReview || rec.Type != rules.TypeAirudderRecall || req == nil {
		return &SettleResult{Status: rec.Status, Found: "nothing asked: the follow-up is " + string(rec.Status)}, nil
	}
	now := a.now()
	asked := now.UTC().Format(time.RFC3339)
	if a.Airudder == nil || !a.Airudder.Configured() {
		return a.keepForReview(ctx, rec, "could not ask Airudder at "+asked+": its API is not configured")
	}
	rng := airudder.TimeRange{From: rec.CreatedAt.Add(-settleLookback), To: now.Add(time.Minute), Location: a.accountZone()}
	found, err := a.Airudder.DetailInstances(ctx, airudder.DetailInstancesRequest{Callee: req.Callee, Range: rng})
	if err != nil {
		var apiErr *airudder.APIError
		if errors.As(err, &apiErr) && !apiErr.Retryable {
			return a.keepForReview(ctx, rec, "could not ask Airudder at "+asked+": "+err.Error())
		}
		return nil, a.queryError(ctx, err) // retried by the workflow's policy, then left for review
	}
	for _, f := range found {
		took := (req.WorkflowID != "" && f.WorkflowID == req.WorkflowID) ||
			(req.TemplateID != "" && f.WorkflowName != "" && f.WorkflowName == req.Name && (f.Created == nil || !f.Created.Before(rng.From)))
		if !took {
			continue
		}
		since := rec.UpdatedAt
		if f.Created != nil {
			since = *f.Created
		}
		msg := fmt.Sprintf("settled by asking Airudder at %s: detailinstances shows the callee in workflow %s", asked, f.WorkflowID)
		if err := a.Store.UpdateFollowUp(ctx, rec.Key, store.FollowUpUpdate{Status: rules.StatusSucceeded, Finished: true, LastError: &msg,
			AirudderWorkflowID: f.WorkflowID,
			Expect:             &store.Expectation{Callee: req.Callee, AirudderWorkflowID: f.WorkflowID, Since: since, Deadline: req.Deadline(now)},
		}); err != nil {
			return nil, classifyDBError(err)
		}
		finishedTotal.WithLabelValues(string(rules.StatusSucceeded)).Inc()
		settledTotal.WithLabelValues("succeeded").Inc()
		a.Log.Info("a re-call of unknown outcome took effect, as Airudder shows", "follow_up", rec.Key, "airudder_workflow_id", f.WorkflowID)
		return &SettleResult{Status: rules.StatusSucceeded, Found: msg, AirudderWorkflowID: f.WorkflowID}, nil
	}
	return a.keepForReview(ctx, rec, fmt.Sprintf("asked Airudder at %s (detailinstances for the callee since %s): %s", asked,
		rng.From.UTC().Format(time.RFC3339), describeInstances(found, req)))
}

// keepForReview adds what asking found to a follow-up that stays needs_review.
func (a *Activities) keepForReview(ctx context.Context, rec *store.FollowUpRecord, found string) (*SettleResult, error) {
	msg := found
	if rec.LastError != "" {
		msg = rec.LastError + "\n" + found
	}
	if err := a.Store.UpdateFollowUp(ctx, rec.Key, store.FollowUpUpdate{LastError: &msg}); err != nil {
		return nil, classifyDBError(err)
	}
	settledTotal.WithLabelValues("needs_review").Inc()
	return &SettleResult{Status: rules.StatusNeedsReview, Found: found}, nil
}

// describeInstances says what detailinstances found, for a person deciding whether to retry.
func describeInstances(found []airudder.FoundInstance, req *rules.RecallRequest) string {
	want := "workflow " + req.WorkflowID
	if req.TemplateID != "" {
		want = fmt.Sprintf("an instance named %q", req.Name)
	}
	if len(found) == 0 {
		return "the callee is in no workflow, so not in " + want
	}
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.WorkflowID
	}
	return fmt.Sprintf("the callee is in %s, not in %s", strings.Join(ids, ", "), want)
}
