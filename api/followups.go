package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// FollowUpJSON is a follow-up as the admin API shows it.
type FollowUpJSON struct {
	ID     int64        `json:"id"`
	Key    string       `json:"idempotency_key"`
	Status rules.Status `json:"status"`
	// SubjectID names what the follow-up follows up, a call or an event; its kind, source and key follow.
	SubjectID int64  `json:"subject_id"`
	Kind      string `json:"kind"`
	Source    string `json:"source"`
	// CallKey is the subject's key (a call's, or an event's: the name is older than events).
	CallKey        string     `json:"call_key"`
	RuleID         string     `json:"rule_id"`
	RuleVersion    int64      `json:"rule_version"`
	Action         string     `json:"action"`
	Type           string     `json:"type"`
	Summary        string     `json:"summary"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastError      string     `json:"last_error"`
	ResponseStatus *int       `json:"response_status"`
	WorkflowID     string     `json:"temporal_workflow_id"`
	// AirudderWorkflowID is the Airudder workflow a re-call went into (the instance it created), to find
	// it in Airudder or stop it.
	AirudderWorkflowID string         `json:"airudder_workflow_id,omitempty"`
	TemporalURL        string         `json:"temporal_url,omitempty"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
	FinishedAt         *time.Time     `json:"finished_at"`
	Plan               rules.FollowUp `json:"plan"`
}

func (s *Server) followUpJSON(r *store.FollowUpRecord) FollowUpJSON {
	wf := r.WorkflowID
	if wf == "" && r.Status != rules.StatusSkipped {
		wf = workflows.FollowUpWorkflowID(r.SubjectWorkflowID, r.RuleID, r.Action)
	}
	out := FollowUpJSON{
		ID: r.ID, Key: r.Key, Status: r.Status, SubjectID: r.SubjectID, Kind: r.SubjectKind, Source: r.Source,
		CallKey: r.SubjectKey, RuleID: r.RuleID,
		RuleVersion: r.RuleVersion, Action: r.Action, Type: r.Type, Summary: r.Summary, Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt, LastError: r.LastError, ResponseStatus: r.ResponseStatus, WorkflowID: wf,
		AirudderWorkflowID: r.AirudderWorkflowID,
		CreatedAt:          r.CreatedAt, UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt, Plan: r.Plan,
	}
	if wf != "" {
		out.TemporalURL = workflows.UILink(s.UIBase, s.Namespace, wf)
	}
	return out
}

// listFollowUps is GET /v1/follow-ups?status=&kind=&source=&call_key=&rule_id=&type=&created_after=&
// created_before=&limit=&cursor=; kind, source and call_key are the subject's (a call's or an event's).
func (s *Server) listFollowUps(c *gin.Context) {
	f := store.FollowUpFilter{
		Status: rules.Status(c.Query("status")), Kind: c.Query("kind"), Source: c.Query("source"), Key: c.Query("call_key"),
		RuleID: c.Query("rule_id"), Type: c.Query("type"),
	}
	if err := timeParams(c, map[string]*time.Time{"created_after": &f.CreatedAfter, "created_before": &f.CreatedBefore}); err != nil {
		s.writeError(c, err)
		return
	}
	if f.Status != "" && !slices.Contains(rules.Statuses, f.Status) {
		names := make([]string, len(rules.Statuses))
		for i, st := range rules.Statuses {
			names[i] = string(st)
		}
		s.writeError(c, newError(http.StatusBadRequest, "invalid_parameter", "status must be one of "+strings.Join(names, ", ")))
		return
	}
	writeList(s, c, "follow_ups", func(limit int, before int64) ([]store.FollowUpRecord, int64, error) {
		f.Limit, f.Before = limit, before
		return s.Store.ListFollowUps(c.Request.Context(), f)
	}, s.followUpJSON)
}

// getFollowUp is GET /v1/follow-ups/{id}.
func (s *Server) getFollowUp(c *gin.Context) {
	rec, err := s.followUpParam(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.followUpJSON(rec))
}

// retryFollowUp is POST /v1/follow-ups/{id}/retry: a failed follow-up, or one that needs review, runs
// again at once (repair.Service.RetryFollowUp); any other is 409 not_failed.
func (s *Server) retryFollowUp(c *gin.Context) {
	rec, err := s.followUpParam(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	run, err := s.Repair.RetryFollowUp(c.Request.Context(), rec)
	if errors.Is(err, activities.ErrNotRetryable) {
		err = newError(http.StatusConflict, "not_failed", "only a failed follow-up, or one that needs review, can be retried; this one is "+string(rec.Status))
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.Log.Info("follow-up retried", "follow_up", rec.Key, "status", rec.Status, "workflow_id", run.GetID(), "run_id", run.GetRunID())
	c.JSON(http.StatusAccepted, gin.H{"follow_up": s.followUpJSON(rec), "run_id": run.GetRunID()})
}

func (s *Server) followUpParam(c *gin.Context) (*store.FollowUpRecord, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, newError(http.StatusBadRequest, "invalid_parameter", "a follow-up ID is a positive whole number")
	}
	return s.Store.GetFollowUp(c.Request.Context(), id)
}

// paging reads limit and cursor.
func paging(c *gin.Context) (limit int, before int64, err error) {
	if limit, err = limitParam(c, defaultPageSize); err != nil {
		return 0, 0, err
	}
	if v := c.Query("cursor"); v != "" {
		if before, err = decodeCursor(v); err != nil {
			return 0, 0, newError(http.StatusBadRequest, "invalid_parameter", "cursor is not one this API returned")
		}
	}
	return limit, before, nil
}

// limitParam reads ?limit=, from 1 to maxPageSize; def when it is absent.
func limitParam(c *gin.Context, def int) (int, error) {
	limit := def
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, newError(http.StatusBadRequest, "invalid_parameter", "limit must be a whole number from 1 to "+strconv.Itoa(maxPageSize))
		}
		limit = n
	}
	if limit < 1 || limit > maxPageSize {
		return 0, newError(http.StatusBadRequest, "invalid_parameter", "limit must be a whole number from 1 to "+strconv.Itoa(maxPageSize))
	}
	return limit, nil
}
