package ingest

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/workflows"
)

// ReconcileError is a request for reconciliation that cannot run: no such source, or no span to run
// over (HTTP 422).
type ReconcileError struct{ Msg string }

func (e *ReconcileError) Error() string { return e.Msg }

// MaxReconcileSpan bounds one run on demand: longer spans are run as several.
const MaxReconcileSpan = 31 * 24 * time.Hour

// StartReconcile starts a run of ReconcileWorkflow on demand for source over [from, to), on queue, and
// returns its workflow ID; the marks of the source are left as they are. It is what POST /v1/reconcile
// and `rudderhook reconcile` do.
func StartReconcile(ctx context.Context, c client.Client, sources map[string]*config.Source, source string, from, to time.Time, queue string) (string, error) {
	switch {
	case sources[source] == nil:
		return "", &ReconcileError{Msg: fmt.Sprintf("source %q is not configured", source)}
	case from.IsZero() || to.IsZero():
		return "", &ReconcileError{Msg: "from and to are required (RFC 3339 times)"}
	case !to.After(from):
		return "", &ReconcileError{Msg: "to must be after from"}
	case to.Sub(from) > MaxReconcileSpan:
		return "", &ReconcileError{Msg: fmt.Sprintf("at most %s at once: run a longer span as several", MaxReconcileSpan)}
	}
	id := workflows.ReconcileWorkflowID(source, time.Now())
	run, err := c.ExecuteWorkflow(ctx, workflows.ReconcileStartOptions(id, source, from, to, queue), workflows.ReconcileWorkflowType,
		workflows.ReconcileInput{Source: source, From: from, To: to})
	if err != nil {
		return "", fmt.Errorf("start %s: %w", id, err)
	}
	return run.GetID(), nil
}
