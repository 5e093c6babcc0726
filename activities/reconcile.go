package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
)

// Reconciliation (docs/design.md: Reconciliation: backfill what never arrived): the calls Airudder lists for a window are compared
// with the calls stored, and every call no callback brought, or that Airudder has corrected since, is
// handed to its workflow as the receiver hands a callback (SubjectStarter), marked backfill.

// SubjectStarter hands subjects to their workflows exactly as the receiver does: one signal-with-start per
// subject to the workflow its key names, a delivery its workflow processed already skipped. cmd gives
// ingest's (ingest.Service.StartSubjects); activities do not import ingest.
type SubjectStarter interface {
	StartSubjects(ctx context.Context, subjects []airudder.Subject) error
}

// Error types of reconciliation's activities.
const (
	// ErrTypeAirudderThrottled: Airudder limited our rate (HTTP 429, code 10705); the next attempt waits
	// longer (ReconcileBackoff, doubling).
	ErrTypeAirudderThrottled = "AirudderThrottled"
	// ErrTypeAirudderUnavailable: a passing failure (5xx, a cut connection); the retry policy's wait.
	ErrTypeAirudderUnavailable = "AirudderUnavailable"
	// ErrTypeAirudderRefused: a query Airudder refuses for good (credentials, a malformed answer).
	ErrTypeAirudderRefused = "AirudderRefused"
	// ErrTypeReconcileConfig: the source is not configured, or Airudder's API is not.
	ErrTypeReconcileConfig = "ReconcileNotConfigured"
)

// Pages of the queries: taskdetail's page_size (inferred; kept modest) and querytaskdetail's limit (the
// dialer's default page, seen).
const (
	workflowPageSize = 200
	pdsPageSize      = 500
	// maxCatchUp bounds how far back a scheduled run starts, however old the high-water mark: after a
	// long outage, older calls are reconciled on demand.
	maxCatchUp = 7 * 24 * time.Hour
	// defaultReconcileBackoff is the first wait after Airudder throttled a query.
	defaultReconcileBackoff = 30 * time.Second
	maxReconcileBackoff     = 10 * time.Minute
)

var (
	backfilledTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rudderhook_backfilled_total",
		Help: "Calls reconciliation handed to their workflows because no callback brought them, or Airudder corrected them since, by source and family (workflow, pds).",
	}, []string{"source", "family"})
	reconcileRecordsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rudderhook_reconcile_records_total",
		Help: "Call records reconciliation read from Airudder, by source, family and outcome: same (stored as it says), missing (backfilled), differs (a new revision), unreadable.",
	}, []string{"source", "family", "outcome"})
)

// ReconcileWindowInput asks for the windows of one run of a source: From and To when given (on demand),
// else from each family's high-water mark.
type ReconcileWindowInput struct {
	Source string    `json:"source"`
	From   time.Time `json:"from,omitzero"`
	To     time.Time `json:"to,omitzero"`
}

// ReconcileWindow is one family's span to reconcile.
type ReconcileWindow struct {
	Family string    `json:"family"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Advance moves the family's high-water mark as its slices finish (a scheduled run; one on demand
	// over any span leaves the mark, so that it never jumps a gap).
	Advance bool `json:"advance,omitempty"`
}

// ReconcilePlan is what one run reconciles, and how.
type ReconcilePlan struct {
	Windows []ReconcileWindow `json:"windows"`
	// Slice is the span of one query at first; MaxRecords the most records a PDS query may page through;
	// Lookback how long before a slice PDS tasks may have started.
	Slice      time.Duration `json:"slice"`
	MaxRecords int           `json:"max_records"`
	Lookback   time.Duration `json:"lookback"`
}

// PlanReconcile decides the windows of a run of in.Source: for each of its families, from its high-water
// mark less the overlap (the source's window back from now, before any mark; at most maxCatchUp back) to
// the settle delay ago; or in.From to in.To, when given, without moving the marks.
func (a *Activities) PlanReconcile(ctx context.Context, in ReconcileWindowInput) (*ReconcilePlan, error) {
	src, err := a.reconcileSource(in.Source)
	if err != nil {
		return nil, err
	}
	r := src.Reconcile
	plan := &ReconcilePlan{Slice: r.Slice, MaxRecords: r.MaxRecordsPerQuery, Lookback: r.PDSTaskLookback}
	now := a.now().UTC().Truncate(time.Second)
	for _, family := range r.Families {
		w := ReconcileWindow{Family: family, From: in.From.UTC().Truncate(time.Second), To: in.To.UTC().Truncate(time.Second)}
		if in.From.IsZero() && in.To.IsZero() {
			w.Advance, w.To, w.From = true, now.Add(-r.Settle), now.Add(-r.Window)
			mark, err := a.Store.ReconcileMarkOf(ctx, in.Source, family)
			if err != nil {
				return nil, classifyDBError(err)
			}
			if mark != nil {
				w.From = mark.Add(-r.Overlap)
				if floor := now.Add(-maxCatchUp); w.From.Before(floor) {
					w.From = floor
				}
			}
		}
		if w.To.After(w.From) {
			plan.Windows = append(plan.Windows, w)
		}
	}
	return plan, nil
}

// reconcileSource is the configured source to reconcile, with Airudder's API configured for it.
func (a *Activities) reconcileSource(name string) (*config.Source, error) {
	src := a.Sources[name]
	switch {
	case src == nil:
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("source %q is not configured", name), ErrTypeReconcileConfig, nil)
	case a.Airudder == nil || !a.Airudder.Configured():
		return nil, temporal.NewNonRetryableApplicationError("Airudder's API is not configured (AIRUDDER_APP_KEY, AIRUDDER_APP_SECRET): nothing to reconcile with",
			ErrTypeReconcileConfig, airudder.ErrNotConfigured)
	case a.Starter == nil:
		return nil, temporal.NewNonRetryableApplicationError("this worker cannot start workflows (no SubjectStarter)", ErrTypeReconcileConfig, nil)
	}
	return src, nil
}

// ReconcileSliceInput is one slice of a family's window: calls started from From up to To (To itself
// excluded), of Source.
type ReconcileSliceInput struct {
	Source  string    `json:"source"`
	Family  string    `json:"family"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Advance bool      `json:"advance,omitempty"`
	// MaxRecords is the most records one PDS query may page through: a slice whose task matches more is
	// not read (Split), unless Force says it cannot be narrowed further.
	MaxRecords int           `json:"max_records"`
	Lookback   time.Duration `json:"lookback"`
	Force      bool          `json:"force,omitempty"`
}

// ReconcileSliceResult is what a slice found and did.
type ReconcileSliceResult struct {
	// Records are the records read; Backfilled those handed to their workflows (missing, or differing),
	// Differences those of them that were stored already and differ; Unreadable those that are no call.
	Records     int `json:"records"`
	Backfilled  int `json:"backfilled"`
	Differences int `json:"differences"`
	Unreadable  int `json:"unreadable"`
	// Split says a PDS query of the slice matched more than MaxRecords: nothing was marked, halve it.
	Split bool `json:"split,omitempty"`
	// Problems say what was unreadable (the first few).
	Problems []string `json:"problems,omitempty"`
}

// sliceProgress is where an attempt of a slice got to, heartbeated after each page so that the next
// attempt (after Airudder throttled us, say) goes on from there instead of reading the slice again.
type sliceProgress struct {
	Page   int                  `json:"page,omitempty"`   // the workflow family's next page
	Task   int                  `json:"task,omitempty"`   // the PDS task being read, by its place in the list
	Offset int                  `json:"offset,omitempty"` // and the next offset in it
	Result ReconcileSliceResult `json:"result"`
}

const maxProblems = 5

// ReconcileSlice reads one slice of a family's records from Airudder and hands every call not stored, or
// stored differently, to its workflow; then, for a scheduled run, it moves the family's high-water mark
// to the slice's end. A failure of Airudder's is retried by Temporal: a throttled query after a longer
// wait (ReconcileBackoff, doubling with each attempt), and each attempt goes on from the last page done.
func (a *Activities) ReconcileSlice(ctx context.Context, in ReconcileSliceInput) (*ReconcileSliceResult, error) {
	src, err := a.reconcileSource(in.Source)
	if err != nil {
		return nil, err
	}
	var prog sliceProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &prog) // a fresh start if it does not read
	}
	// Airudder's bounds include both ends, to the second: the slice's end is the next one's start.
	rng := airudder.TimeRange{From: in.From, To: in.To.Add(-time.Second), Location: a.accountZone()}
	r := &reconciler{a: a, in: in, opts: src.ParseOptions(), prog: &prog}
	switch in.Family {
	case airudder.FamilyWorkflow:
		err = r.workflowRecords(ctx, rng)
	case airudder.FamilyPDS:
		err = r.pdsRecords(ctx, rng)
	default:
		err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("family %q: workflow or pds", in.Family), ErrTypeReconcileConfig, nil)
	}
	if err != nil {
		return nil, a.queryError(ctx, err)
	}
	if !prog.Result.Split && in.Advance {
		if err := a.Store.AdvanceReconcileMark(ctx, in.Source, in.Family, in.To); err != nil {
			return nil, classifyDBError(err)
		}
	}
	return &prog.Result, nil
}

// accountZone is the zone times are written to Airudder in: the account's (AIRUDDER_TIME_ZONE), else
// UTC.
func (a *Activities) accountZone() *time.Location {
	if a.AirudderZone != nil {
		return a.AirudderZone
	}
	return time.UTC
}

// queryError says what a failed query means to Temporal's retries: a throttled one waits longer, a passing
// failure takes the retry policy's wait, a refusal fails the slice.
func (a *Activities) queryError(ctx context.Context, err error) error {
	var apiErr *airudder.APIError
	if !errors.As(err, &apiErr) {
		return err // the database (retried), or an error already typed
	}
	switch {
	case apiErr.Throttled:
		base := a.ReconcileBackoff
		if base <= 0 {
			base = defaultReconcileBackoff
		}
		wait := base
		for n := int32(1); n < activity.GetInfo(ctx).Attempt && wait < maxReconcileBackoff; n++ {
			wait *= 2
		}
		return temporal.NewApplicationErrorWithOptions(apiErr.Error(), ErrTypeAirudderThrottled,
			temporal.ApplicationErrorOptions{NextRetryDelay: min(wait, maxReconcileBackoff)})
	case apiErr.Retryable:
		return temporal.NewApplicationError(apiErr.Error(), ErrTypeAirudderUnavailable)
	}
	return temporal.NewNonRetryableApplicationError(apiErr.Error(), ErrTypeAirudderRefused, err)
}

// reconciler reads one slice.
type reconciler struct {
	a    *Activities
	in   ReconcileSliceInput
	opts airudder.ParseOptions
	prog *sliceProgress
}

// workflowRecords pages taskdetail over the slice.
func (r *reconciler) workflowRecords(ctx context.Context, rng airudder.TimeRange) error {
	for page := max(r.prog.Page, 1); ; page++ {
		p, err := r.a.Airudder.TaskDetail(ctx, airudder.WorkflowRecordsRequest{Range: rng, Page: page, PageSize: workflowPageSize})
		if err != nil {
			return err
		}
		if err := r.backfill(ctx, p.Records, airudder.ReadWorkflowRecord); err != nil {
			return err
		}
		r.prog.Page = page + 1
		activity.RecordHeartbeat(ctx, *r.prog)
		if len(p.Records) < workflowPageSize || (p.Total >= 0 && page*workflowPageSize >= p.Total) {
			return nil
		}
	}
}

// pdsRecords lists the PDS tasks that may have calls in the slice, then pages each one's records of the
// slice. Before anything is backfilled, each task's first page says how many records it has in the
// slice: one that passes MaxRecords splits the slice instead, so that a slice is read whole or not at all.
func (r *reconciler) pdsRecords(ctx context.Context, rng airudder.TimeRange) error {
	tasks, err := r.a.Airudder.QueryTaskList(ctx, airudder.TimeRange{From: rng.From.Add(-r.in.Lookback), To: rng.To, Location: rng.Location})
	if err != nil {
		return err
	}
	page := func(ti, offset int) (*airudder.RecordPage, error) {
		return r.a.Airudder.QueryTaskDetail(ctx, airudder.TaskDetailRequest{TaskID: tasks[ti].TaskID, Range: &rng, Offset: offset, Limit: pdsPageSize})
	}
	first := map[int]*airudder.RecordPage{}
	if r.prog.Task == 0 && r.prog.Offset == 0 && !r.in.Force {
		for ti := range tasks {
			p, err := page(ti, 0)
			if err != nil {
				return err
			}
			if p.Total > r.in.MaxRecords {
				r.prog.Result.Split = true
				return nil
			}
			first[ti] = p
		}
	}
	for ti := r.prog.Task; ti < len(tasks); ti++ {
		offset := 0
		if ti == r.prog.Task {
			offset = r.prog.Offset
		}
		for {
			p := first[ti]
			if offset > 0 || p == nil {
				if p, err = page(ti, offset); err != nil {
					return err
				}
			}
			if err := r.backfill(ctx, p.Records, airudder.ReadPDSRecord); err != nil {
				return err
			}
			offset += len(p.Records)
			r.prog.Task, r.prog.Offset = ti, offset
			activity.RecordHeartbeat(ctx, *r.prog)
			if len(p.Records) < pdsPageSize || (p.Total >= 0 && offset >= p.Total) {
				break
			}
		}
		r.prog.Task, r.prog.Offset = ti+1, 0
	}
	return nil
}

// backfill reads a page of records as calls and hands those not stored, or stored differently, to their
// workflows in one go.
func (r *reconciler) backfill(ctx context.Context, records []json.RawMessage, read func(json.RawMessage, string, time.Time, airudder.ParseOptions) (*airudder.ReceivedCall, error)) error {
	source, family, res := r.in.Source, r.in.Family, &r.prog.Result
	now := r.a.now()
	calls := make([]airudder.ReceivedCall, 0, len(records))
	keys := make([]string, 0, len(records))
	for _, raw := range records {
		res.Records++
		rc, err := read(raw, source, now, r.opts)
		if err != nil {
			res.Unreadable++
			reconcileRecordsTotal.WithLabelValues(source, family, "unreadable").Inc()
			if len(res.Problems) < maxProblems {
				res.Problems = append(res.Problems, err.Error())
			}
			r.a.Log.Warn("a record from Airudder is no call; skipped", "source", source, "family", family, "error", err)
			continue
		}
		calls = append(calls, *rc)
		keys = append(keys, rc.Key)
	}
	if len(calls) == 0 {
		return nil
	}
	stored, err := r.a.Store.ShownCalls(ctx, source, keys)
	if err != nil {
		return classifyDBError(err)
	}
	var subjects []airudder.Subject
	same, differ := 0, 0
	for _, rc := range calls {
		if st, ok := stored[rc.Key]; ok {
			d := airudder.CallDifferences(st.ReceivedCall, rc)
			if len(d) == 0 {
				same++
				continue
			}
			differ++
			r.a.Log.Info("Airudder's record of a stored call differs: backfilling it as a new revision", "source", source,
				"call_key", rc.Key, "fields", d)
		}
		subjects = append(subjects, airudder.CallSubject(rc))
	}
	if len(subjects) > 0 {
		if err := r.a.Starter.StartSubjects(ctx, subjects); err != nil {
			return fmt.Errorf("hand %d backfilled calls to their workflows: %w", len(subjects), err)
		}
	}
	res.Backfilled += len(subjects)
	res.Differences += differ
	backfilledTotal.WithLabelValues(source, family).Add(float64(len(subjects)))
	reconcileRecordsTotal.WithLabelValues(source, family, "same").Add(float64(same))
	reconcileRecordsTotal.WithLabelValues(source, family, "differs").Add(float64(differ))
	reconcileRecordsTotal.WithLabelValues(source, family, "missing").Add(float64(len(subjects) - differ))
	return nil
}
