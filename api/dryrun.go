package api

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/dryrun"
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
	calls, err := dryrun.Calls(ctx, s.Store, dryrun.Selection{CallIDs: req.CallIDs, Filter: req.Filter, Limit: req.Limit})
	if err != nil {
		s.writeError(c, err)
		return
	}
	report, err := dryrun.Run(ctx, set, calls)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, report)
}

// maxDryRunBytes bounds the body of a dry run: a draft of up to rules.MaxDocumentBytes, escaped as a JSON string,
// and call IDs. A larger body is refused (413) before it is read whole.
const maxDryRunBytes = 2 * rules.MaxDocumentBytes

// readDryRun reads the request from the JSON body and the query, where the filters of GET /v1/calls,
// call_id and limit work too.
func readDryRun(c *gin.Context) (dryRunRequest, error) {
	var req dryRunRequest
	body, err := readBody(c, maxDryRunBytes)
	if err != nil {
		return req, err
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
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
		return rules.Compile([]byte(draft), s.ruleOptions())
	}
	set, err := s.Rules.Current(ctx)
	if err == nil && set == nil {
		err = newError(http.StatusNotFound, "no_rules", "no rules are in force; send a draft as \"rules\"")
	}
	return set, err
}
