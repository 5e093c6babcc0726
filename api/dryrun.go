package api

import (
	"cmp"
	"context"
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

// DryRunReport is what a dry run answers: per call, and counted over all of them.
type DryRunReport struct {
	RuleVersion *int64         `json:"rule_version"`
	Calls       []DryRunCall   `json:"calls"`
	Matched     map[string]int `json:"matched"`
	FollowUps   int            `json:"follow_ups"`
}

// dryRun is POST /v1/rules/dry-run: it evaluates rules (a draft, or those in force) against stored calls
// and reports what each would have planned, as of when the call arrived. Nothing is stored or sent.
func (s *Server) dryRun(c *gin.Context) {
	ctx := c.Request.Context()
	req, err := readDryRun(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	set, err := s.rulesToTry(ctx, req.Rules)
	if err != nil {
		s.writeError(c, err)
		return
	}
	calls, err := s.callsToTry(ctx, req)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, planEach(set, calls))
}

// readDryRun reads the request from the JSON body and the query, where the filters of GET /v1/calls,
// call_id and limit work too.
func readDryRun(c *gin.Context) (dryRunRequest, error) {
	var req dryRunRequest
	if c.Request.ContentLength != 0 {
		if err := c.ShouldBindJSON(&req); err != nil && !errors.Is(err, io.EOF) {
			return req, newError(http.StatusBadRequest, "invalid_request", "the body must be JSON: {\"rules\": \"…\", \"call_ids\": […], \"filter\": {…}, \"limit\": n}: "+err.Error())
		}
	}
	if err := queryCallFilter(c, &req.Filter); err != nil {
		return req, err
	}
	req.CallIDs = append(req.CallIDs, c.QueryArray("call_id")...)
	if len(req.CallIDs) > maxPageSize {
		return req, newError(http.StatusBadRequest, "invalid_request", "at most "+strconv.Itoa(maxPageSize)+" call_ids")
	}
	limit, err := limitParam(c, cmp.Or(req.Limit, dryRunPageSize))
	req.Limit = limit
	return req, err
}

// dryRunPageSize is how many of the newest calls a dry run tries when it is given no call IDs and no limit.
const dryRunPageSize = 100

// rulesToTry compiles a draft, or returns the rules in force when there is none.
func (s *Server) rulesToTry(ctx context.Context, draft string) (*rules.Set, error) {
	if draft != "" {
		return rules.Compile([]byte(draft), rules.Options{Targets: s.Targets})
	}
	set, err := s.Rules.Current(ctx)
	if err == nil && set == nil {
		err = newError(http.StatusNotFound, "no_rules", "no rules are in force; send a draft as \"rules\"")
	}
	return set, err
}

// callsToTry are the calls named by ID, or else the newest that match the filter.
func (s *Server) callsToTry(ctx context.Context, req dryRunRequest) ([]store.CallRecord, error) {
	if len(req.CallIDs) == 0 {
		req.Filter.Limit = req.Limit
		calls, _, err := s.Store.ListCalls(ctx, req.Filter)
		return calls, err
	}
	var calls []store.CallRecord
	for _, id := range req.CallIDs {
		found, err := s.Store.FindCalls(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, newError(http.StatusNotFound, "not_found", "no call with ID "+strconv.Quote(id))
		}
		calls = append(calls, found...)
	}
	return calls, nil
}

// planEach plans every call with set, as of when the call arrived, and counts what matched.
func planEach(set *rules.Set, calls []store.CallRecord) DryRunReport {
	out := DryRunReport{Calls: make([]DryRunCall, 0, len(calls)), Matched: map[string]int{}}
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
	return out
}
