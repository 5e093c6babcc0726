package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// reconcileRequest is the body of POST /v1/reconcile.
type reconcileRequest struct {
	Source string    `json:"source"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
}

// maxReconcileBody bounds POST /v1/reconcile's body: three short fields.
const maxReconcileBody = 4096

// startReconcile is POST /v1/reconcile {source, from, to}: a run of reconciliation over that span, now
// (the source's high-water marks are left as they are). 202 with the run's workflow ID, which GET
// /v1/reconcile/{workflow_id} follows.
func (s *Server) startReconcile(c *gin.Context) {
	body, err := readBody(c, maxReconcileBody)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req reconcileRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.writeError(c, newError(http.StatusBadRequest, "invalid_request", `the body must be JSON: {"source": "…", "from": RFC 3339, "to": RFC 3339}: `+err.Error()))
		return
	}
	id, err := ingest.StartReconcile(c.Request.Context(), s.Temporal, s.Sources, req.Source, req.From, req.To, s.TaskQueue)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.Log.Info("reconciliation started on demand", "workflow_id", id, "source", req.Source, "from", req.From, "to", req.To)
	c.JSON(http.StatusAccepted, gin.H{"workflow_id": id, "temporal_url": workflows.UILink(s.UIBase, s.Namespace, id)})
}

// reconcileStatus is a run of reconciliation as GET /v1/reconcile/{workflow_id} shows it.
type reconcileStatus struct {
	WorkflowID  string                     `json:"workflow_id"`
	Status      string                     `json:"status"`
	Report      *workflows.ReconcileReport `json:"report,omitempty"`
	Error       string                     `json:"error,omitempty"`
	TemporalURL string                     `json:"temporal_url,omitempty"`
}

// getReconcile is GET /v1/reconcile/{workflow_id}: where a run stands (running, completed, failed, …)
// and its report: as it stands while it runs, its result once it completed.
func (s *Server) getReconcile(c *gin.Context) {
	ctx := c.Request.Context()
	id := strings.TrimPrefix(c.Param("workflow_id"), "/")
	if !strings.HasPrefix(id, "reconcile/") {
		s.writeError(c, newError(http.StatusNotFound, "not_found", "no such run of reconciliation: its workflow ID starts with reconcile/"))
		return
	}
	out, err := s.reconcileStatus(ctx, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) reconcileStatus(ctx context.Context, id string) (*reconcileStatus, error) {
	desc, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return nil, newError(http.StatusNotFound, "not_found", "no such run of reconciliation")
	case err != nil:
		return nil, fmt.Errorf("describe %s: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetType().GetName() != workflows.ReconcileWorkflowType {
		return nil, newError(http.StatusNotFound, "not_found", "no such run of reconciliation")
	}
	out := &reconcileStatus{WorkflowID: id, TemporalURL: workflows.UILink(s.UIBase, s.Namespace, id),
		Status: strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))}
	var rep workflows.ReconcileReport
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		v, err := s.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryReconcileProgress)
		if err == nil && v.Get(&rep) == nil {
			out.Report = &rep
		}
	default:
		if err := s.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &rep); err != nil {
			out.Error = err.Error()
		} else {
			out.Report = &rep
		}
	}
	return out, nil
}

// reconcileSource is a source's reconciliation as GET /v1/reconcile lists it.
type reconcileSource struct {
	Source   string                `json:"source"`
	Enabled  bool                  `json:"enabled"`
	Interval string                `json:"interval,omitempty"`
	Families []string              `json:"families"`
	Marks    []store.ReconcileMark `json:"marks"`
}

// listReconcile is GET /v1/reconcile: each source's reconciliation (on or off, its families) and its
// high-water marks, which say up to when its calls were compared with Airudder's records.
func (s *Server) listReconcile(c *gin.Context) {
	marks, err := s.Store.ReconcileMarks(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := []reconcileSource{}
	for _, name := range slices.Sorted(maps.Keys(s.Sources)) {
		r := s.Sources[name].Reconcile
		rs := reconcileSource{Source: name, Enabled: r.Enabled(), Families: r.Families, Marks: []store.ReconcileMark{}}
		if r.Enabled() {
			rs.Interval = r.Interval.String()
		}
		for _, m := range marks {
			if m.Source == name {
				rs.Marks = append(rs.Marks, m)
			}
		}
		out = append(out, rs)
	}
	c.JSON(http.StatusOK, gin.H{"sources": out})
}
