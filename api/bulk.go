package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/repair"
	"github.com/rudderhook/rudderhook/workflows"
)

// Bulk repair: a plan first (POST /v1/follow-ups/retry, POST /v1/inbox/replay), which shows what matched
// and keeps it; then its run (…/{plan_id}/run), one workflow that repairs exactly that; then its status
// and a way to stop it (/v1/bulk/{plan_id}). The work is repair's.

// bulkRequester is who asks for plans through the admin API: its token names nobody.
const bulkRequester = "admin API"

// maxBulkRequestBytes bounds a plan's request: filters and a condition of up to rules.MaxConditionBytes.
const maxBulkRequestBytes = 64 << 10

// planRetry is POST /v1/follow-ups/retry: the plan of retrying the follow-ups that the filters (those of
// GET /v1/follow-ups, and a time range) and a condition on their subjects select. Nothing is retried
// until the plan is run.
func (s *Server) planRetry(c *gin.Context) {
	var req repair.RetryRequest
	if err := readStrict(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	plan, err := s.Repair.PlanRetry(c.Request.Context(), req, bulkRequester)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, plan)
}

// planReplay is POST /v1/inbox/replay: the plan of replaying the dead letters that the filters select.
func (s *Server) planReplay(c *gin.Context) {
	var req repair.ReplayRequest
	if err := readStrict(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	plan, err := s.Repair.PlanReplay(c.Request.Context(), req, bulkRequester)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, plan)
}

// runPlan is POST /v1/follow-ups/retry/{plan_id}/run and POST /v1/inbox/replay/{plan_id}/run: the plan's
// run starts (once: running it again answers the same run).
func (s *Server) runPlan(what string) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, err := s.Repair.Run(c.Request.Context(), c.Param("plan_id"), what)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.JSON(http.StatusAccepted, s.bulkJSON(st))
	}
}

// getBulk is GET /v1/bulk/{plan_id}: where a plan stands, and how far its run got.
func (s *Server) getBulk(c *gin.Context) {
	st, err := s.Repair.Status(c.Request.Context(), c.Param("plan_id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.bulkJSON(st))
}

// cancelBulk is POST /v1/bulk/{plan_id}/cancel: the run stops after the batch under way.
func (s *Server) cancelBulk(c *gin.Context) {
	st, err := s.Repair.Cancel(c.Request.Context(), c.Param("plan_id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, s.bulkJSON(st))
}

// BulkJSON is a plan's status as the admin API shows it: with a link to its run in the Temporal UI.
type BulkJSON struct {
	*repair.Status
	TemporalURL string `json:"temporal_url,omitempty"`
}

func (s *Server) bulkJSON(st *repair.Status) BulkJSON {
	out := BulkJSON{Status: st}
	if st.WorkflowID != "" {
		out.TemporalURL = workflows.UILink(s.UIBase, s.Namespace, st.WorkflowID)
	}
	return out
}

// readStrict reads a JSON body into v, refusing a field v does not have: a misspelt filter would
// otherwise select more than was meant.
func readStrict(c *gin.Context, v any) error {
	body, err := readBody(c, maxBulkRequestBytes)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return newError(http.StatusBadRequest, "invalid_request", "the body must be the JSON this endpoint takes (see /openapi.json): "+err.Error())
	}
	return nil
}
