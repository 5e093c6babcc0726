package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/payload"
)

// Reconciliation (docs/design.md: Reconciliation: backfill what never arrived): ReconcileWorkflow compares a source's calls with the
// records Airudder keeps, over a window cut into slices, and backfills what no callback brought through
// the receiver's own path; ExpectationsWorkflow marks the re-calls whose call did not come overdue. Both
// run on Temporal Schedules that the worker keeps (worker.EnsureSchedules), and on demand.

// ReconcileWorkflowType and ExpectationsWorkflowType are the names they are registered by.
const (
	ReconcileWorkflowType    = "ReconcileWorkflow"
	ExpectationsWorkflowType = "ExpectationsWorkflow"
)

// QueryReconcileProgress answers a run's ReconcileReport as it stands.
const QueryReconcileProgress = "progress"

// ReconcileInput is a run of ReconcileWorkflow: a source, and the span to reconcile when given (on
// demand); without one, each family's span since its high-water mark (a scheduled run). A run that
// continues as new carries its plan, the slices left and its report.
type ReconcileInput struct {
	Source string    `json:"source"`
	From   time.Time `json:"from,omitzero"`
	To     time.Time `json:"to,omitzero"`

	Plan    *activities.ReconcilePlan `json:"plan,omitempty"`
	Pending []ReconcileSlice          `json:"pending,omitempty"`
	Report  *ReconcileReport          `json:"report,omitempty"`
}

// ReconcileSlice is one query's span of one family.
type ReconcileSlice struct {
	Family  string    `json:"family"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Advance bool      `json:"advance,omitempty"`
	Force   bool      `json:"force,omitempty"`
}

// ReconcileReport is what a run did: its windows, the slices it scanned, the records it read, the calls
// it backfilled (of them, those stored differently before), and its errors.
type ReconcileReport struct {
	Source  string                       `json:"source"`
	Windows []activities.ReconcileWindow `json:"windows"`
	// WindowsScanned are the slices read to their end; Splits those halved because a PDS query matched
	// too many records.
	WindowsScanned int `json:"windows_scanned"`
	Splits         int `json:"splits,omitempty"`
	Records        int `json:"records_seen"`
	Backfilled     int `json:"backfilled"`
	Differences    int `json:"differences"`
	Unreadable     int `json:"unreadable,omitempty"`
	// Errors count the slices that failed after their retries; each stops its family for this run (its
	// high-water mark stays before it, so the next run starts there). Problems say why.
	Errors   int      `json:"errors"`
	Problems []string `json:"problems,omitempty"`
	// Failed are the families stopped by an error.
	Failed []string `json:"failed_families,omitempty"`
	Done   bool     `json:"done"`
}

const (
	// slicesPerRun bounds the slices of one run before it continues as new, so that a long window (a
	// day of ten-minute slices, or weeks on demand) keeps a short history.
	slicesPerRun = 300
	// sliceTimeout bounds the attempts of one slice: Airudder throttling or failing for longer fails the
	// slice (and its family, for this run) instead of holding the run for ever.
	sliceTimeout = 2 * time.Hour
	maxProblems  = 20
)

// sliceRetry is how a slice's queries are retried: after passing failures, a few seconds doubling to five
// minutes; after throttling, the wait the activity asks for (longer).
var sliceRetry = &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute}

// ReconcileWorkflow reconciles one source: it plans the run's windows (each family's high-water mark,
// or the span asked for), cuts them into slices, and runs one activity per slice, in order, each reading
// Airudder's records of its slice and backfilling the calls not stored (or stored differently) as a
// callback would be, then moving the family's mark. A PDS slice whose query matches more records than
// Airudder serves in one query is halved. A slice that fails after its retries stops its family for the
// run. Its progress is in its details and the "progress" query; its result is the report.
func ReconcileWorkflow(ctx workflow.Context, in ReconcileInput) (*ReconcileReport, error) {
	rep := in.Report
	if rep == nil {
		rep = &ReconcileReport{Source: in.Source}
	}
	if err := workflow.SetQueryHandler(ctx, QueryReconcileProgress, func() (ReconcileReport, error) { return *rep, nil }); err != nil {
		return nil, err
	}
	var a *activities.Activities
	plan, pending := in.Plan, in.Pending
	if plan == nil {
		workflow.SetCurrentDetails(ctx, "Deciding the windows to reconcile")
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			Summary: "Windows of " + in.Source, StartToCloseTimeout: 10 * time.Second, ScheduleToCloseTimeout: 10 * time.Minute, RetryPolicy: dbRetry,
		})
		if err := workflow.ExecuteLocalActivity(lctx, a.PlanReconcile, activities.ReconcileWindowInput{Source: in.Source, From: in.From, To: in.To}).Get(ctx, &plan); err != nil {
			return nil, err
		}
		rep.Windows = plan.Windows
		pending = sliceWindows(plan)
	}
	failed := map[string]bool{}
	for _, f := range rep.Failed {
		failed[f] = true
	}
	sliceOptions := workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Minute,
		HeartbeatTimeout:       2 * time.Minute,
		ScheduleToCloseTimeout: sliceTimeout,
		RetryPolicy:            sliceRetry,
	}
	for done := 0; len(pending) > 0; done++ {
		if done >= slicesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return nil, workflow.NewContinueAsNewError(ctx, ReconcileWorkflowType, ReconcileInput{Source: in.Source, From: in.From, To: in.To,
				Plan: plan, Pending: pending, Report: rep})
		}
		s := pending[0]
		pending = pending[1:]
		if failed[s.Family] {
			continue
		}
		workflow.SetCurrentDetails(ctx, rep.details(&s, len(pending)))
		var res activities.ReconcileSliceResult
		opts := sliceOptions
		opts.Summary = fmt.Sprintf("Reconcile %s %s %s – %s", in.Source, s.Family, s.From.Format(time.RFC3339), s.To.Format(time.RFC3339))
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.ReconcileSlice, activities.ReconcileSliceInput{Source: in.Source, Family: s.Family, From: s.From, To: s.To, Advance: s.Advance,
			MaxRecords: plan.MaxRecords, Lookback: plan.Lookback, Force: s.Force}).Get(ctx, &res)
		if err != nil {
			rep.Errors++
			failed[s.Family] = true
			rep.Failed = append(rep.Failed, s.Family)
			rep.problem(fmt.Sprintf("%s %s – %s: %s", s.Family, s.From.Format(time.RFC3339), s.To.Format(time.RFC3339), failureReason(err)))
			workflow.GetLogger(ctx).Error("reconcile slice failed; its family stops for this run", "family", s.Family, "from", s.From, "error", err)
			continue
		}
		if res.Split {
			rep.Splits++
			pending = append(split(s), pending...)
			continue
		}
		rep.WindowsScanned++
		rep.Records += res.Records
		rep.Backfilled += res.Backfilled
		rep.Differences += res.Differences
		rep.Unreadable += res.Unreadable
		for _, p := range res.Problems {
			rep.problem(p)
		}
	}
	rep.Done = true
	workflow.SetCurrentDetails(ctx, rep.details(nil, 0))
	return rep, nil
}

// sliceWindows cuts each window into slices of the plan's span, in time order, family after family.
// Slices start on whole seconds, which Airudder's bounds count in.
func sliceWindows(plan *activities.ReconcilePlan) []ReconcileSlice {
	step := max(plan.Slice.Truncate(time.Second), time.Second)
	var out []ReconcileSlice
	for _, w := range plan.Windows {
		for from := w.From; from.Before(w.To); from = from.Add(step) {
			to := from.Add(step)
			if to.After(w.To) {
				to = w.To
			}
			out = append(out, ReconcileSlice{Family: w.Family, From: from, To: to, Advance: w.Advance})
		}
	}
	return out
}

// split halves a slice on a whole second; one of a second or less is read whole (Force), however many
// records it holds.
func split(s ReconcileSlice) []ReconcileSlice {
	half := (s.To.Sub(s.From) / 2).Truncate(time.Second)
	if half < time.Second {
		s.Force = true
		return []ReconcileSlice{s}
	}
	first, second := s, s
	first.To, second.From = s.From.Add(half), s.From.Add(half)
	return []ReconcileSlice{first, second}
}

func (r *ReconcileReport) problem(p string) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, payload.Cut(p, 300))
	}
}

// details is what the run says in the Temporal UI: where it is and what it found so far.
func (r *ReconcileReport) details(current *ReconcileSlice, left int) string {
	s := fmt.Sprintf("**%s**: %d slices scanned, %d records seen, %d calls backfilled (%d differed from what was stored), %d errors",
		r.Source, r.WindowsScanned, r.Records, r.Backfilled, r.Differences, r.Errors)
	if r.Splits > 0 {
		s += fmt.Sprintf(", %d slices halved", r.Splits)
	}
	if current != nil {
		s += fmt.Sprintf("\n\nNow: %s %s – %s; %d slices after it", current.Family, current.From.Format(time.RFC3339), current.To.Format(time.RFC3339), left)
	} else if r.Done {
		s = "Done. " + s
	}
	for _, p := range r.Problems {
		s += "\n\n- " + payload.Cut(p, 200)
	}
	return payload.CutJSON(s, payload.DetailsTextLimit)
}

// ExpectationsWorkflow marks the re-calls whose call did not complete by their deadline overdue and fires
// the rules on recall_overdue for each (one activity, SweepExpectations).
func ExpectationsWorkflow(ctx workflow.Context) (*activities.SweepResult, error) {
	var a *activities.Activities
	var out activities.SweepResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:                "Mark overdue re-calls and fire recall_overdue",
		StartToCloseTimeout:    5 * time.Minute,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy:            dbRetry,
	}), a.SweepExpectations).Get(ctx, &out)
	if err != nil {
		return nil, err
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("%d re-calls became overdue; %d recall_overdue events handed to their workflows", out.Overdue, out.Fired))
	return &out, nil
}
