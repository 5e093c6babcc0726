package ui

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/repair"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// The repair page (/ui/repair): when a target was down or a rule was wrong, an editor retries the
// follow-ups that failed because of it, in bulk. She picks them as GET /v1/follow-ups and a condition
// would (the same repair.RetryRequest), sees the plan — how many, which, where each goes — and confirms
// it; then she sees how far the run got, and may stop it. Viewers see the page, not its forms.

type repairPage struct {
	Form   repairForm
	Plan   *repair.RetryPlan
	Status *repair.Status
	// Rules and Types are what the form offers.
	Rules []string
	Types []string
	// CanRepair says the page has a repair service (cmd wires one; it needs Temporal).
	CanRepair bool
}

// repairForm is the form as sent, to show it again with the plan or a problem.
type repairForm struct {
	Failed, NeedsReview                 bool
	RuleID, Type, Kind, Source, CallKey string
	After, Before                       string // dates, YYYY-MM-DD, UTC
	Where                               string
	Limit, Rate                         string
	// Problem is what is wrong with it, and Field which field ("where", or "" for the form).
	Problem string
}

// repairPath is the page's own address.
const repairPath = "/ui/repair"

// planIDRE is what a plan's ID looks like (repair.Service's "bp_" and 20 hex digits): the page shows no
// other.
var planIDRE = regexp.MustCompile(`^bp_[0-9a-f]{20}$`)

// repairView is GET /ui/repair, and GET /ui/repair?plan={id} for where a plan stands.
func (s *Server) repairView(w http.ResponseWriter, r *http.Request) {
	page := s.newRepairPage(r)
	page.Form = repairForm{Failed: true, Limit: strconv.Itoa(repair.DefaultLimit), Rate: strconv.FormatFloat(repair.DefaultRate, 'f', -1, 64)}
	if id := r.URL.Query().Get("plan"); id != "" && page.CanRepair {
		if !planIDRE.MatchString(id) {
			s.fail(w, r, http.StatusNotFound, "there is no such plan")
			return
		}
		st, err := s.Repair.Status(r.Context(), id)
		if err != nil {
			s.repairFailed(w, r, err)
			return
		}
		page.Status = st
	}
	s.render(w, r, http.StatusOK, "repair", pageData{Title: "Retry failed follow-ups", Nav: "repair", Page: page})
}

func (s *Server) newRepairPage(r *http.Request) *repairPage {
	page := &repairPage{CanRepair: s.Repair != nil, Types: []string{rules.TypeWebhook, rules.TypeNotify, rules.TypeAirudderRecall, rules.TypeAirudderCancelContact}}
	if set, err := s.Rules.Current(r.Context()); err == nil && set != nil {
		for _, rule := range set.Rules {
			page.Rules = append(page.Rules, rule.ID)
		}
	}
	return page
}

// repairPlan is POST /ui/repair/plan (editors): the plan of the form's retry, shown with a button that
// runs it. Nothing is retried yet.
func (s *Server) repairPlan(w http.ResponseWriter, r *http.Request) {
	if s.Repair == nil {
		s.fail(w, r, http.StatusNotFound, "bulk retries are not available here")
		return
	}
	page := s.newRepairPage(r)
	f := repairForm{
		Failed: r.PostFormValue("failed") != "", NeedsReview: r.PostFormValue("needs_review") != "",
		RuleID: strings.TrimSpace(r.PostFormValue("rule_id")), Type: r.PostFormValue("type"), Kind: strings.TrimSpace(r.PostFormValue("kind")),
		Source: strings.TrimSpace(r.PostFormValue("source")), CallKey: strings.TrimSpace(r.PostFormValue("call_key")),
		After: r.PostFormValue("created_after"), Before: r.PostFormValue("created_before"),
		Where: r.PostFormValue("where"), Limit: r.PostFormValue("limit"), Rate: r.PostFormValue("rate_per_second"),
	}
	page.Form = f
	req, err := f.request()
	if err == nil {
		page.Plan, err = s.Repair.PlanRetry(r.Context(), req, userOf(r.Context()).Name)
	}
	status := http.StatusOK
	var where *rules.WhereError
	var invalid *repair.InvalidRequestError
	switch {
	case errors.As(err, &where):
		status, page.Form.Problem = http.StatusUnprocessableEntity, where.Error()
	case errors.As(err, &invalid):
		status, page.Form.Problem = http.StatusBadRequest, invalid.Message
	case errors.Is(err, repair.ErrPlanTooLong):
		status, page.Form.Problem = http.StatusUnprocessableEntity, "planning took too long: narrow the choice (a rule, a kind, dates) or simplify the condition"
	case err != nil:
		s.failErr(w, r, err)
		return
	}
	s.render(w, r, status, "repair", pageData{Title: "Retry failed follow-ups", Nav: "repair", Page: page})
}

// request is the form as the plan's request.
func (f repairForm) request() (repair.RetryRequest, error) {
	req := repair.RetryRequest{Filters: repair.RetryFilters{RuleID: f.RuleID, Type: f.Type, Kind: f.Kind, Source: f.Source, CallKey: f.CallKey},
		Where: f.Where}
	if f.Failed {
		req.Filters.Status = append(req.Filters.Status, rules.StatusFailed)
	}
	if f.NeedsReview {
		req.Filters.Status = append(req.Filters.Status, rules.StatusNeedsReview)
	}
	if len(req.Filters.Status) == 0 {
		return req, &repair.InvalidRequestError{Message: "tick failed, needs review, or both"}
	}
	var err error
	if req.Filters.CreatedAfter, err = formDate(f.After, "from", 0); err != nil {
		return req, err
	}
	if req.Filters.CreatedBefore, err = formDate(f.Before, "to", 24*time.Hour); err != nil {
		return req, err
	}
	if f.Limit != "" {
		if req.Limit, err = strconv.Atoi(f.Limit); err != nil {
			return req, &repair.InvalidRequestError{Message: "at most how many is a whole number"}
		}
	}
	if f.Rate != "" {
		if req.RatePerSecond, err = strconv.ParseFloat(f.Rate, 64); err != nil {
			return req, &repair.InvalidRequestError{Message: "how many a second is a number"}
		}
	}
	return req, nil
}

// formDate reads a date of the form (YYYY-MM-DD, a day in UTC), plus add: the end of the day for "to".
func formDate(v, label string, add time.Duration) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return nil, &repair.InvalidRequestError{Message: "the " + label + " date is a date, e.g. 2024-03-11"}
	}
	d = d.Add(add)
	return &d, nil
}

// repairRun is POST /ui/repair/run (editors): the plan shown runs; the page then shows how far it got.
func (s *Server) repairRun(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("plan_id")
	if s.Repair == nil || !planIDRE.MatchString(id) {
		s.fail(w, r, http.StatusNotFound, "there is no such plan")
		return
	}
	st, err := s.Repair.Run(r.Context(), id, store.BulkFollowUps)
	if err != nil {
		s.repairFailed(w, r, err)
		return
	}
	s.Log.Info("bulk retry run from the rules page", "user", userOf(r.Context()).Name, "plan_id", id, "matched", st.Matched)
	http.Redirect(w, r, repairPath+"?plan="+id, http.StatusSeeOther)
}

// repairCancel is POST /ui/repair/cancel (editors): the plan's run stops after the batch under way.
func (s *Server) repairCancel(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("plan_id")
	if s.Repair == nil || !planIDRE.MatchString(id) {
		s.fail(w, r, http.StatusNotFound, "there is no such plan")
		return
	}
	if _, err := s.Repair.Cancel(r.Context(), id); err != nil {
		s.repairFailed(w, r, err)
		return
	}
	s.Log.Info("bulk retry cancelled from the rules page", "user", userOf(r.Context()).Name, "plan_id", id)
	http.Redirect(w, r, repairPath+"?plan="+id, http.StatusSeeOther)
}

// repairFailed answers a run or a cancel that could not be made.
func (s *Server) repairFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrPlanExpired):
		s.fail(w, r, http.StatusGone, "this plan expired before it was run ("+repair.PlanTTL.String()+" after it was made): make it again")
	case errors.Is(err, repair.ErrNotRun):
		s.fail(w, r, http.StatusConflict, "this plan has not been run, so there is nothing to stop")
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "there is no such plan")
	default:
		s.failErr(w, r, err)
	}
}
