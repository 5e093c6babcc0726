package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// dryRunRequest picks the rules and the stored calls to try them on.
type dryRunRequest struct {
	// Rules is a draft document; empty means the rules in force.
	Rules string `json:"rules"`
	// CallIDs are call keys; when empty, Filter and Limit select the newest matching calls.
	CallIDs []string         `json:"call_ids"`
	Filter  store.CallFilter `json:"filter"`
	Limit   int              `json:"limit"`
}

// DryRunCall is what the rules would have done with one stored call.
type DryRunCall struct {
	Source               string           `json:"source"`
	Key                  string           `json:"key"`
	CaseID               string           `json:"case_id"`
	Intention            string           `json:"intention"`
	IntentionDescription string           `json:"intention_description"`
	ReceivedAt           time.Time        `json:"received_at"`
	Matched              []string         `json:"matched_rules"`
	FollowUps            []rules.FollowUp `json:"follow_ups"`
	Errors               []rules.Problem  `json:"errors,omitempty"`
}

// dryRun is POST /v1/rules/dry-run: it evaluates rules (a draft, or those in force) against stored calls
// and reports what each would have planned, as of when the call arrived. Nothing is stored or sent.
func (s *Server) dryRun(c *gin.Context) {
	ctx := c.Request.Context()
	var req dryRunRequest
	if c.Request.ContentLength != 0 {
		if err := c.ShouldBindJSON(&req); err != nil && !errors.Is(err, io.EOF) {
			s.writeError(c, newError(http.StatusBadRequest, "invalid_request", "the body must be JSON: {\"rules\": \"…\", \"call_ids\": […], \"filter\": {…}, \"limit\": n}: "+err.Error()))
			return
		}
	}
	// The filters of GET /v1/calls work as query parameters too.
	if err := queryCallFilter(c, &req.Filter); err != nil {
		s.writeError(c, err)
		return
	}
	req.CallIDs = append(req.CallIDs, c.QueryArray("call_id")...)
	var err error
	if v := c.Query("limit"); v != "" {
		if req.Limit, err = strconv.Atoi(v); err != nil {
			s.writeError(c, newError(http.StatusBadRequest, "invalid_parameter", "limit must be a whole number"))
			return
		}
	}
	var set *rules.Set
	if req.Rules != "" {
		set, err = rules.Compile([]byte(req.Rules), rules.Options{Targets: s.Targets})
	} else if set, err = s.Store.CurrentRules(ctx); err == nil && set == nil {
		err = newError(http.StatusNotFound, "no_rules", "no rules are in force; send a draft as \"rules\"")
	}
	if err != nil {
		s.writeError(c, err)
		return
	}

	var calls []store.CallRecord
	if len(req.CallIDs) > 0 {
		if len(req.CallIDs) > maxPageSize {
			s.writeError(c, newError(http.StatusBadRequest, "invalid_request", "at most 500 call_ids"))
			return
		}
		for _, id := range req.CallIDs {
			found, err := s.Store.FindCalls(ctx, id)
			if err != nil {
				s.writeError(c, err)
				return
			}
			if len(found) == 0 {
				s.writeError(c, newError(http.StatusNotFound, "not_found", "no call with ID "+strconv.Quote(id)))
				return
			}
			calls = append(calls, found...)
		}
	} else {
		if req.Limit == 0 {
			req.Limit = 100
		}
		if req.Limit < 0 || req.Limit > maxPageSize {
			s.writeError(c, newError(http.StatusBadRequest, "invalid_request", "limit must be from 1 to 500"))
			return
		}
		req.Filter.Limit = req.Limit
		calls, _, err = s.Store.ListCalls(ctx, req.Filter)
		if err != nil {
			s.writeError(c, err)
			return
		}
	}

	out := struct {
		RuleVersion *int64         `json:"rule_version"`
		Calls       []DryRunCall   `json:"calls"`
		Matched     map[string]int `json:"matched"`
		FollowUps   int            `json:"follow_ups"`
	}{Calls: make([]DryRunCall, 0, len(calls)), Matched: map[string]int{}}
	if set.Version > 0 {
		out.RuleVersion = &set.Version
	}
	for _, rec := range calls {
		p := set.Plan(rec.ReceivedCall, rec.WorkflowID, rec.ReceivedAt)
		out.Calls = append(out.Calls, DryRunCall{
			Source: rec.Source, Key: rec.Key, CaseID: rec.Call.CaseID, Intention: rec.Call.Intention,
			IntentionDescription: rec.Call.IntentionDescription, ReceivedAt: rec.ReceivedAt,
			Matched: p.Matched, FollowUps: p.FollowUps, Errors: p.Errors,
		})
		for _, id := range p.Matched {
			out.Matched[id]++
		}
		out.FollowUps += len(p.FollowUps)
	}
	c.JSON(http.StatusOK, out)
}
