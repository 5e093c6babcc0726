package integration

import (
	"context"
	"errors"
	"net/http"
	"testing"

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
// and the relay starts the one that failed (and finds the others processed). The starts before the
// answer are temporal mode's.
func TestOneFailedStartDoesNotCancelTheOthers(t *testing.T) {
	t.Parallel()
	s := start(t, options{noRelay: true, environ: []string{"RUDDERHOOK_ACK=temporal"}})
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
	s.notStarted("call/airudder/part-2")
	if n := s.count("inbox"); n != 1 {
		t.Fatalf("inbox rows = %d, want 1 (the whole body)", n)
	}
	runs := map[string]string{"part-1": s.runID("call/airudder/part-1"), "part-3": s.runID("call/airudder/part-3")}
	if res, err := s.ingest.Inbox().RelayOnce(context.Background()); err != nil || res.Done != 1 {
		t.Fatalf("relay = %+v, %v", res, err)
	}
	// The relay's starts have returned: what it started or signalled is in Temporal's record now.
	s.waitWorkflow("call/airudder/part-2")
	for part, run := range runs {
		if id := "call/airudder/" + part; s.runID(id) != run || s.signals(id) != 1 {
			t.Errorf("%s: run %s (was %s), %d revisions handed to it; want the same run with one (the relay found it processed)",
				part, s.runID(id), run, s.signals(id))
		}
	}
}
