package workflows_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/rudderhook/rudderhook/workflows"
)

// TestReplayRecordedHistories replays histories recorded from earlier versions of the workflows against
// today's code. A change that would break executions still running when it deploys (a non-deterministic
// change without workflow.GetVersion) fails here.
//
// To record one: run `rudderhook dev`, post a callback, and save
// GET http://127.0.0.1:8233/api/v1/namespaces/default/workflows/{id}/history's "history" object under
// testdata/ as <workflow>_<version>.history.json.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.history.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(workflows.CallCompletedWorkflow)
			if err := r.ReplayWorkflowHistoryFromJSONFile(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), f); err != nil {
				t.Errorf("replay %s: %v", f, err)
			}
		})
	}
}
