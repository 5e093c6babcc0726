package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/repair"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/dryrun"
	"github.com/rudderhook/rudderhook/store"
)

// Error is an error with the HTTP status and stable code that the caller sees. Handlers return plain
// errors; writeError turns them into responses, in this one place.
type Error struct {
	Status   int
	Code     string
	Message  string
	Fields   []airudder.FieldError
	Problems []rules.Problem
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// errorBody is the JSON of every error response: {"error": {"code": …, "message": …}}.
type errorBody struct {
	Error struct {
		Code     string                `json:"code"`
		Message  string                `json:"message"`
		Fields   []airudder.FieldError `json:"fields,omitempty"`
		Problems []rules.Problem       `json:"problems,omitempty"`
	} `json:"error"`
}

// toError maps any error to what the caller may see. Internal errors keep their detail in the log, never
// in the response.
func toError(err error) *Error {
	var (
		apiErr    *Error
		syntaxErr *airudder.SyntaxError
		validErr  *airudder.ValidationError
		tooLarge  *http.MaxBytesError
		tooMany   *airudder.TooManyCallsError
		reconcile *ingest.ReconcileError
		rulesErr  *rules.Error
		whereErr  *rules.WhereError
		badPlan   *repair.InvalidRequestError
		// a follow-up retried while its workflow still runs
		alreadyStarted *serviceerror.WorkflowExecutionAlreadyStarted
	)
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &tooLarge):
		return newError(http.StatusRequestEntityTooLarge, "body_too_large", "the body is larger than the "+strconv.FormatInt(tooLarge.Limit, 10)+" bytes accepted here")
	case errors.As(err, &tooMany):
		return newError(http.StatusRequestEntityTooLarge, "too_many_calls", tooMany.Error())
	case errors.As(err, &syntaxErr):
		return newError(http.StatusBadRequest, "malformed_json", syntaxErr.Msg)
	case errors.As(err, &validErr):
		e := newError(http.StatusUnprocessableEntity, "invalid_payload", validErr.Error())
		e.Fields = validErr.Fields
		return e
	case errors.As(err, &reconcile):
		return newError(http.StatusUnprocessableEntity, "invalid_reconcile", reconcile.Msg)
	case errors.As(err, &rulesErr):
		e := newError(http.StatusUnprocessableEntity, "invalid_rules", rulesErr.Error())
		e.Problems = rulesErr.Problems
		return e
	case errors.As(err, &whereErr):
		switch {
		case whereErr.TooCostly:
			return newError(http.StatusUnprocessableEntity, "condition_too_costly", whereErr.Error()+
				": a condition may do a bounded amount of work on each subject, as a rule's may; make it simpler")
		case whereErr.Subject != "":
			return newError(http.StatusUnprocessableEntity, "condition_failed", whereErr.Error())
		}
		return newError(http.StatusUnprocessableEntity, "invalid_condition", whereErr.Error())
	case errors.As(err, &badPlan):
		return newError(http.StatusBadRequest, "invalid_parameter", badPlan.Message)
	case errors.Is(err, repair.ErrPlanTooLong):
		return newError(http.StatusUnprocessableEntity, "plan_too_long", "planning took longer than "+repair.PlanTimeout.String()+
			": narrow the filters (a rule, a kind, a time range) or simplify the condition")
	case errors.Is(err, store.ErrPlanExpired):
		return newError(http.StatusGone, "plan_expired", "the plan expired before it was run ("+repair.PlanTTL.String()+" after it was made): plan again")
	case errors.Is(err, repair.ErrNotRun):
		return newError(http.StatusConflict, "not_run", "the plan has not been run, so there is nothing to stop")
	case errors.Is(err, airudder.ErrMissingSign):
		return newError(http.StatusUnauthorized, "missing_signature", "the body has no Sign field")
	case errors.Is(err, airudder.ErrInvalidSign):
		return newError(http.StatusUnauthorized, "invalid_signature", "Sign does not match md5(TaskID + key) for any key of this source")
	case errors.Is(err, ingest.ErrNotDurable):
		return newError(http.StatusServiceUnavailable, "unavailable", "the callback could not be stored; retry later")
	case errors.As(err, &alreadyStarted):
		return newError(http.StatusConflict, "already_running", "its workflow is running already")
	case errors.Is(err, store.ErrNotDead):
		return newError(http.StatusConflict, "not_dead", "only a dead letter can be replayed; this entry is still pending")
	case errors.Is(err, dryrun.ErrTooLong):
		return newError(http.StatusUnprocessableEntity, "dry_run_too_long", "the rules took longer than "+dryrun.Timeout.String()+
			" on these calls: try them on fewer calls, or look for a template or condition that does much work")
	case errors.Is(err, dryrun.ErrNoCall):
		return newError(http.StatusNotFound, "not_found", strings.TrimSuffix(err.Error(), ": "+dryrun.ErrNoCall.Error()))
	case errors.Is(err, store.ErrConflict):
		return newError(http.StatusConflict, "rules_changed", "the rules in force changed since this change was started; review them and try again")
	case errors.Is(err, store.ErrNotFound):
		return newError(http.StatusNotFound, "not_found", "no such record")
	default:
		return newError(http.StatusInternalServerError, "internal", "internal error")
	}
}

func (s *Server) writeError(c *gin.Context, err error) {
	e := toError(err)
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	s.Log.Log(c.Request.Context(), level, "request refused", "method", c.Request.Method, "path", c.FullPath(),
		"status", e.Status, "code", e.Code, "error", err)
	switch {
	case e.Code == codeUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="rudderhook"`)
	case e.Status == http.StatusServiceUnavailable:
		c.Header("Retry-After", "10")
	}
	var body errorBody
	body.Error.Code, body.Error.Message, body.Error.Fields, body.Error.Problems = e.Code, e.Message, e.Fields, e.Problems
	c.AbortWithStatusJSON(e.Status, body)
}
