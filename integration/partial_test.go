package integration

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/ingest"
)

// refusingOne is the real Temporal client, except that it refuses to start one workflow ID: a start that
// fails while the others of the same body succeed.
type refusingOne struct {
	client.Client
	id string
}

func (c refusingOne) SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
	options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error) {
	if workflowID == c.id {
		return nil, errors.New("injected: this start fails")
	}
	return c.Client.SignalWithStartWorkflow(ctx, workflowID, signalName, signalArg, options, workflow, workflowArgs...)
}

// One failed start of a body does not cancel the others: they all run, the body goes to the inbox whole,
// and the relay starts the one that failed (starting the others again is harmless).
func TestOneFailedStartDoesNotCancelTheOthers(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	s.serve(&ingest.Service{Temporal: refusingOne{s.client, "call/airudder/part-2"}, Store: s.store, Sources: s.cfg.Sources,
		Log: testLogger(t), Parallelism: 1})
	body := signed(t, func(_ map[string]any, d []any) []any {
		return []any{detailCopy(d, "part-1"), detailCopy(d, "part-2"), detailCopy(d, "part-3")}
	})
	if status, b := s.post("airudder", body, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, b)
	}
	s.waitWorkflow("call/airudder/part-1")
	s.waitWorkflow("call/airudder/part-3") // started after the failed one, one at a time
	if n := s.count("inbox"); n != 1 {
		t.Fatalf("inbox rows = %d, want 1 (the whole body)", n)
	}
	if res, err := s.ingest.Inbox().RelayOnce(context.Background()); err != nil || res.Done != 1 {
		t.Fatalf("relay = %+v, %v", res, err)
	}
	s.waitWorkflow("call/airudder/part-2")
	time.Sleep(300 * time.Millisecond)
	for _, id := range []string{"part-1", "part-2", "part-3"} {
		if n := s.runs("call/airudder/" + id); n != 1 {
			t.Errorf("%s: %d runs, want 1 (the relay found part-1 and part-3 processed)", id, n)
		}
	}
}
