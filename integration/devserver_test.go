package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/devserver"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/workflows"
)

// TestDevServerKeepsHistoryAcrossRestart is `rudderhook dev` stopped and started again: the workflow of
// a call handled before the restart is still there, with its history, and the Web UI lists it by its
// search attributes.
func TestDevServerKeepsHistoryAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, options{dataDir: dir})
	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, body)
	}
	id := "call/airudder/" + seedCallID
	s.waitWorkflow(id)
	run := s.runID(id)
	s.client.Close()
	s.temporal.Stop()

	log := testLogger(t)
	again, err := devserver.Start(context.Background(), devserver.Options{
		DataDir: dir, FrontendAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:0", Log: log,
	})
	if err != nil {
		t.Fatalf("restart on %s: %v", dir, err)
	}
	defer again.Stop()
	c, err := client.DialContext(context.Background(), client.Options{HostPort: again.FrontendAddr, Logger: sdklog.NewStructuredLogger(log)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var result workflows.CallCompletedResult
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &result); err != nil {
		t.Fatalf("workflow after restart: %+v, %v", result, err)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if desc.GetWorkflowExecutionInfo().GetHistoryLength() < 5 {
		t.Errorf("history length after restart = %d", desc.GetWorkflowExecutionInfo().GetHistoryLength())
	}

	// The UI's own JSON API, which its pages call, finds the execution by case.
	q := url.Values{"query": {`CaseID = "7777777.0"`}}
	var listed struct {
		Executions []struct {
			Execution struct{ WorkflowID string }
			Status    string
		}
	}
	eventually(t, "the UI to list the execution of case 7777777.0", func() bool {
		resp, err := http.Get(again.UIURL + "/api/v1/namespaces/default/workflows?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &listed); err != nil {
			t.Fatalf("UI API: %s", b)
		}
		return len(listed.Executions) > 0
	})
	if len(listed.Executions) != 1 || listed.Executions[0].Execution.WorkflowID != id {
		t.Errorf("UI lists %+v", listed.Executions)
	}

	// And a delivery of the same callback after the restart is still a duplicate: handed to no run. The
	// API and its relay now use the restarted server.
	s.client = c
	s.ingest = &ingest.Service{Temporal: c, Store: s.store, Sources: s.cfg.Sources, Log: log}
	s.serve(s.ingest)
	s.relay(s.ingest)
	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
		t.Fatalf("POST after restart = %d %s", status, body)
	}
	s.handedOver()
	if r, n := s.runID(id), s.signals(id); r != run || n != 1 {
		t.Errorf("after the redelivery: run %s (was %s), %d revisions handed to it; want the same run, with the first only", r, run, n)
	}
}
