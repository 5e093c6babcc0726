package repair

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// Bounds of a bulk repair.
const (
	// DefaultLimit is how many follow-ups or dead letters one plan takes when the request does not
	// say; MaxLimit the most it may ask for. More is planned again after the run.
	DefaultLimit = 1000
	MaxLimit     = 10_000
	// DefaultRate is how many a run repairs a second when the request does not say; MaxRate the
	// most, MinRate the fewest.
	DefaultRate = workflows.BulkDefaultRate
	MaxRate     = 100.0
	MinRate     = 0.1
	// PlanTTL is how long a plan may wait to be run: what it matched grows stale.
	PlanTTL = time.Hour
	// MaxExamined is how many follow-ups a plan tries its condition on, oldest first.
	MaxExamined = 20_000
	// PlanTimeout is how long planning may take, the condition's evaluations included.
	PlanTimeout = 20 * time.Second
	// SampleSize is how many of what matched a plan shows.
	SampleSize = 10

	scanPage = 500
)

// ErrPlanTooLong means planning took longer than PlanTimeout.
var ErrPlanTooLong = errors.New("planning took too long")

// InvalidRequestError is a request for a plan that cannot be planned as asked.
type InvalidRequestError struct{ Message string }

func (e *InvalidRequestError) Error() string { return e.Message }

func invalid(format string, args ...any) error {
	return &InvalidRequestError{Message: fmt.Sprintf(format, args...)}
}

// Pace is how much a plan takes and how fast its run goes.
type Pace struct {
	// Limit is the most the plan takes (DefaultLimit when 0; at most MaxLimit).
	Limit int `json:"limit,omitempty"`
	// RatePerSecond is how many its run repairs a second (DefaultRate when 0; MinRate to MaxRate).
	RatePerSecond float64 `json:"rate_per_second,omitempty"`
}

func (p *Pace) check() error {
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	if p.RatePerSecond == 0 {
		p.RatePerSecond = DefaultRate
	}
	switch {
	case p.Limit < 1 || p.Limit > MaxLimit:
		return invalid("limit must be from 1 to %d", MaxLimit)
	case p.RatePerSecond < MinRate || p.RatePerSecond > MaxRate:
		return invalid("rate_per_second must be from %v to %v", MinRate, MaxRate)
	}
	return nil
}

// RetryRequest asks to retry follow-ups: those the filters select (as GET /v1/follow-ups does) whose
// subject meets the condition, if any.
type RetryRequest struct {
	Filters RetryFilters `json:"filters"`
	// Where is a condition on the follow-up's subject, written as a rule's (rules.Where): over `call`
	// for calls (`call.intention == "PTP" && call.total_owing_amount > 1000000`), over `event` for events.
	Where string `json:"where,omitempty"`
	Pace
}

// RetryFilters select follow-ups; empty fields do not filter.
type RetryFilters struct {
	// Status is the statuses to retry: failed, needs_review or both; failed when empty. Only those can be
	// retried; needs_review is retried only when asked for by name, since its last attempt may have
	// reached a person (docs/design.md: Effects that reach a person happen at most once by default).
	Status []rules.Status `json:"status,omitempty"`
	RuleID string         `json:"rule_id,omitempty"`
	Type   string         `json:"type,omitempty"`
	// Kind, Source and CallKey are the subject's, as GET /v1/follow-ups reads them.
	Kind    string `json:"kind,omitempty"`
	Source  string `json:"source,omitempty"`
	CallKey string `json:"call_key,omitempty"`
	// CreatedAfter and CreatedBefore bound when the follow-ups were planned.
	CreatedAfter  *time.Time `json:"created_after,omitempty"`
	CreatedBefore *time.Time `json:"created_before,omitempty"`
}

func (r *RetryRequest) check() error {
	if len(r.Filters.Status) == 0 {
		r.Filters.Status = []rules.Status{rules.StatusFailed}
	}
	for _, st := range r.Filters.Status {
		if !st.Retryable() {
			return invalid("status %q cannot be retried: only %s and %s can", st, rules.StatusFailed, rules.StatusNeedsReview)
		}
	}
	r.Filters.Status = slices.Compact(slices.Sorted(slices.Values(r.Filters.Status)))
	if err := checkRange("created", r.Filters.CreatedAfter, r.Filters.CreatedBefore); err != nil {
		return err
	}
	r.Where = strings.TrimSpace(r.Where)
	return r.Pace.check()
}

func checkRange(what string, after, before *time.Time) error {
	if after != nil && before != nil && !after.Before(*before) {
		return invalid("%s_after must be before %s_before", what, what)
	}
	return nil
}

func (f RetryFilters) store() store.FollowUpFilter {
	return store.FollowUpFilter{Statuses: f.Status, RuleID: f.RuleID, Type: f.Type, Kind: f.Kind, Source: f.Source, Key: f.CallKey,
		CreatedAfter: deref(f.CreatedAfter), CreatedBefore: deref(f.CreatedBefore)}
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// Plan is what a bulk repair will do, shown before it runs.
type Plan struct {
	// ID names the plan, to run it (before ExpiresAt); empty when nothing matched.
	ID        string     `json:"plan_id,omitempty"`
	What      string     `json:"what"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Candidates is how many the filters select; Examined how many of them, oldest first, were looked at
	// (the condition tried on); Matched how many the run takes.
	Candidates int64 `json:"candidates"`
	Examined   int   `json:"examined"`
	Matched    int   `json:"matched"`
	// More says more may match than the plan takes (its limit, or MaxExamined): run it, then plan again.
	More bool `json:"more"`
	Pace
	// EstimatedSeconds is how long the run should take at its rate.
	EstimatedSeconds float64 `json:"estimated_seconds"`
}

// RetryPlan is the plan of a bulk retry: what it retries, a sample, and where the retries will go.
type RetryPlan struct {
	Plan
	Request RetryRequest     `json:"request"`
	Sample  []FollowUpSample `json:"sample"`
	// ByTarget counts what matched by type and where it goes.
	ByTarget []TargetCount `json:"by_target"`
}

// FollowUpSample is one follow-up a plan retries, as an operator checks it.
type FollowUpSample struct {
	ID          int64        `json:"id"`
	Status      rules.Status `json:"status"`
	RuleID      string       `json:"rule_id"`
	RuleVersion int64        `json:"rule_version"`
	Action      string       `json:"action"`
	Type        string       `json:"type"`
	// Target is where it goes: a configured target's name, a URL's host only, or Airudder
	// (rules.FollowUp.Destination).
	Target    string        `json:"target"`
	Attempts  int           `json:"attempts"`
	LastError string        `json:"last_error"`
	CreatedAt time.Time     `json:"created_at"`
	Subject   SubjectSample `json:"subject"`
}

// SubjectSample is what a follow-up follows up, in one line (phone numbers masked).
type SubjectSample struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	Source  string `json:"source"`
	Key     string `json:"key"`
	Summary string `json:"summary"`
}

// TargetCount is how many of a plan's follow-ups of one type go to one target.
type TargetCount struct {
	Type   string `json:"type"`
	Target string `json:"target"`
	Count  int    `json:"count"`
}

// PlanRetry plans a bulk retry: the follow-ups the filters select, oldest first, whose subject meets the
// condition, up to the limit; it keeps their IDs for Run and shows a sample and where they go. A
// condition that is refused or fails on a subject is a *rules.WhereError.
func (s *Service) PlanRetry(ctx context.Context, req RetryRequest, by string) (*RetryPlan, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	var where *rules.Where
	if req.Where != "" {
		var err error
		if where, err = rules.NewWhere(req.Where); err != nil {
			return nil, err
		}
	}
	f := req.Filters.store()
	candidates, err := s.Store.CountMatchingFollowUps(ctx, f)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, PlanTimeout)
	defer cancel()
	plan := &RetryPlan{Plan: Plan{What: store.BulkFollowUps, Candidates: candidates, Pace: req.Pace}, Request: req, Sample: []FollowUpSample{},
		ByTarget: []TargetCount{}}
	var ids []int64
	var sample []store.FollowUpRecord
	targets := map[TargetCount]int{}
	var after int64
scan:
	for {
		page, err := s.Store.ScanFollowUps(pctx, f, after, scanPage)
		if err != nil {
			return nil, tooLong(ctx, pctx, err)
		}
		var subjects map[int64]*store.SubjectRecord
		if where != nil {
			if subjects, err = s.Store.SubjectsByID(pctx, subjectIDs(page)); err != nil {
				return nil, tooLong(ctx, pctx, err)
			}
		}
		for _, rec := range page {
			if len(ids) == req.Limit || (where != nil && plan.Examined == MaxExamined) {
				plan.More = true
				break scan
			}
			after = rec.ID
			plan.Examined++
			if where != nil {
				subj := subjects[rec.SubjectID]
				if subj == nil {
					continue
				}
				ok, err := where.Match(pctx, subj.Subject)
				if err != nil {
					return nil, tooLong(ctx, pctx, err)
				}
				if !ok {
					continue
				}
			}
			ids = append(ids, rec.ID)
			targets[TargetCount{Type: rec.Type, Target: rec.Plan.Destination()}]++
			if len(sample) < SampleSize {
				sample = append(sample, rec)
			}
		}
		if len(page) < scanPage {
			break
		}
	}
	if where != nil {
		if err := where.Refused(); err != nil {
			return nil, err
		}
	}
	if err := s.samples(ctx, plan, sample); err != nil {
		return nil, err
	}
	for tc, n := range targets {
		tc.Count = n
		plan.ByTarget = append(plan.ByTarget, tc)
	}
	slices.SortFunc(plan.ByTarget, func(a, b TargetCount) int {
		return cmp.Or(b.Count-a.Count, cmp.Compare(a.Type, b.Type), cmp.Compare(a.Target, b.Target))
	})
	if err := s.keep(ctx, &plan.Plan, req, ids, by); err != nil {
		return nil, err
	}
	return plan, nil
}

// samples shows what the sample follow-ups follow up.
func (s *Service) samples(ctx context.Context, plan *RetryPlan, recs []store.FollowUpRecord) error {
	subjects, err := s.Store.SubjectsByID(ctx, subjectIDs(recs))
	if err != nil {
		return err
	}
	for _, rec := range recs {
		fs := FollowUpSample{ID: rec.ID, Status: rec.Status, RuleID: rec.RuleID, RuleVersion: rec.RuleVersion, Action: rec.Action,
			Type: rec.Type, Target: rec.Plan.Destination(), Attempts: rec.Attempts, LastError: rec.LastError, CreatedAt: rec.CreatedAt,
			Subject: SubjectSample{ID: rec.SubjectID, Kind: rec.SubjectKind, Source: rec.Source, Key: rec.SubjectKey}}
		if subj := subjects[rec.SubjectID]; subj != nil {
			fs.Subject.Summary = subj.Summary()
		}
		plan.Sample = append(plan.Sample, fs)
	}
	return nil
}

func subjectIDs(recs []store.FollowUpRecord) []int64 {
	ids := make([]int64, 0, len(recs))
	for _, r := range recs {
		ids = append(ids, r.SubjectID)
	}
	return ids
}

// tooLong is err, or ErrPlanTooLong when planning ran out of its time (and its caller did not go).
func tooLong(ctx, pctx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrPlanTooLong, err)
	}
	return err
}

// keep stores a plan that matched something, to be run before it expires, and completes what it says.
func (s *Service) keep(ctx context.Context, plan *Plan, req any, ids []int64, by string) error {
	plan.Matched = len(ids)
	plan.EstimatedSeconds = float64(len(ids)) / plan.RatePerSecond
	if len(ids) == 0 {
		return nil
	}
	request, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode plan request: %w", err)
	}
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	plan.ID = "bp_" + hex.EncodeToString(b)
	expires := s.now().Add(PlanTTL).UTC()
	plan.ExpiresAt = &expires
	return s.Store.SaveBulkPlan(ctx, store.BulkPlan{ID: plan.ID, What: plan.What, Request: request, CreatedBy: by, ExpiresAt: expires}, ids)
}

// ReplayRequest asks to replay dead letters: those the filters select.
type ReplayRequest struct {
	Filters ReplayFilters `json:"filters"`
	Pace
}

// ReplayFilters select dead letters; empty fields do not filter.
type ReplayFilters struct {
	Source string `json:"source,omitempty"`
	Kind   string `json:"kind,omitempty"`
	// ReceivedAfter and ReceivedBefore bound when the callbacks arrived; DeadAfter and DeadBefore when
	// they became dead letters.
	ReceivedAfter  *time.Time `json:"received_after,omitempty"`
	ReceivedBefore *time.Time `json:"received_before,omitempty"`
	DeadAfter      *time.Time `json:"dead_after,omitempty"`
	DeadBefore     *time.Time `json:"dead_before,omitempty"`
	// ErrorContains keeps those whose last error contains it, in any case.
	ErrorContains string `json:"error_contains,omitempty"`
}

func (r *ReplayRequest) check() error {
	if err := checkRange("received", r.Filters.ReceivedAfter, r.Filters.ReceivedBefore); err != nil {
		return err
	}
	if err := checkRange("dead", r.Filters.DeadAfter, r.Filters.DeadBefore); err != nil {
		return err
	}
	return r.Pace.check()
}

func (f ReplayFilters) store() store.DeadLetterFilter {
	return store.DeadLetterFilter{Source: f.Source, Kind: f.Kind, ReceivedAfter: deref(f.ReceivedAfter), ReceivedBefore: deref(f.ReceivedBefore),
		DeadAfter: deref(f.DeadAfter), DeadBefore: deref(f.DeadBefore), ErrorContains: f.ErrorContains}
}

// ReplayPlan is the plan of a bulk replay: what it replays, a sample, and how many of each source and
// kind.
type ReplayPlan struct {
	Plan
	Request ReplayRequest      `json:"request"`
	Sample  []DeadLetterSample `json:"sample"`
	ByKind  []KindCount        `json:"by_kind"`
}

// DeadLetterSample is one dead letter a plan replays (never its body).
type DeadLetterSample struct {
	ID         int64      `json:"id"`
	Source     string     `json:"source"`
	Kind       string     `json:"kind"`
	ReceivedAt time.Time  `json:"received_at"`
	DeadAt     *time.Time `json:"dead_at,omitempty"`
	Attempts   int        `json:"attempts"`
	LastError  string     `json:"last_error"`
}

// KindCount is how many of a plan's dead letters came to one source as one kind.
type KindCount struct {
	Source string `json:"source"`
	Kind   string `json:"kind"`
	Count  int    `json:"count"`
}

// PlanReplay plans a bulk replay: the dead letters the filters select, oldest first, up to the limit;
// it keeps their IDs for Run.
func (s *Service) PlanReplay(ctx context.Context, req ReplayRequest, by string) (*ReplayPlan, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	f := req.Filters.store()
	candidates, err := s.Store.CountDeadLetters(ctx, f)
	if err != nil {
		return nil, err
	}
	dead, err := s.Store.ScanDeadLetters(ctx, f, 0, req.Limit)
	if err != nil {
		return nil, err
	}
	plan := &ReplayPlan{Plan: Plan{What: store.BulkDeadLetters, Candidates: candidates, Examined: len(dead), More: candidates > int64(len(dead)),
		Pace: req.Pace}, Request: req, Sample: []DeadLetterSample{}, ByKind: []KindCount{}}
	ids := make([]int64, len(dead))
	kinds := map[KindCount]int{}
	for i, d := range dead {
		ids[i] = d.ID
		kinds[KindCount{Source: d.Source, Kind: d.Kind}]++
		if len(plan.Sample) < SampleSize {
			plan.Sample = append(plan.Sample, DeadLetterSample{ID: d.ID, Source: d.Source, Kind: d.Kind, ReceivedAt: d.ReceivedAt.UTC(),
				DeadAt: d.DeadAt, Attempts: d.Attempts, LastError: d.LastError})
		}
	}
	for kc, n := range kinds {
		kc.Count = n
		plan.ByKind = append(plan.ByKind, kc)
	}
	slices.SortFunc(plan.ByKind, func(a, b KindCount) int {
		return cmp.Or(b.Count-a.Count, cmp.Compare(a.Source, b.Source), cmp.Compare(a.Kind, b.Kind))
	})
	if err := s.keep(ctx, &plan.Plan, req, ids, by); err != nil {
		return nil, err
	}
	return plan, nil
}
