package workflows_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/workflows"
)

// recordedIDs are the workflow IDs of the recorded histories: the code derives child IDs from its own ID,
// so a replay must run under the original one.
var recordedIDs = map[string]string{
	"call_completed_v0.history.json": "call/airudder/cad907xxxxxxxx35644a",
	"call_completed_v1.history.json": "call/airudder/cad907xxxxxxxx35644a",
	// v2: revisions; a corrected redelivery signalled while the first revision's follow-up ran.
	"call_completed_v2.history.json": "call/airudder/cad907xxxxxxxx35644a",
	// v3: local-activities; storing and planning are local activities (markers, not activity tasks).
	"call_completed_v3.history.json": "call/airudder/cad907xxxxxxxx35644a",
	"follow_up_v1.history.json":      "call/airudder/cad907xxxxxxxx35644a/followup/needs-follow-up/agent-task",
	"follow_up_v2.history.json":      "call/airudder/cad907xxxxxxxx35644a/followup/needs-follow-up/agent-task",
	// safe-effects: a retry inside the calling window after a daily-cap claim, and an at-most-once
	// action whose outcome was unknown ending as needs_review.
	"follow_up_v3.history.json":              "call/airudder/cad907xxxxxxxx35644a/followup/needs-follow-up/team-message",
	"follow_up_v3_needs_review.history.json": "call/airudder/review-call-1/followup/needs-follow-up/team-message",
	// v4: local-activities; the follow-up's bookkeeping is local activities.
	"follow_up_v4.history.json": "call/airudder/cad907xxxxxxxx35644a/followup/needs-follow-up/later",
	// the first EventWorkflow: a list completion stored, and its rule's team message run as a child.
	// SubjectWorkflow: a call stored and planned (one local activity), its follow-up waiting on a timer
	// while a corrected delivery is stored, planned (a search attribute upserted: the one it changed) and
	// followed up in the same run, then the waiting follow-up run when its time came.
	"subject_v1.history.json": "call/airudder/cad907xxxxxxxx35644a",
	"event_v0.history.json":   "event/airudder/list-completed/16e0660e6cxxxxxxxxxxxxxxxx0abfe0e191/7777777.0/tel:5dff7171e5446240",
}

// TestReplayRecordedHistories replays histories recorded from earlier versions of the workflows against
// today's code. A change that would break executions still running when it deploys (a non-deterministic
// change without workflow.GetVersion) fails here.
//
// To record one: RUDDERHOOK_RECORD_HISTORY (see integration/record_test.go), or run `rudderhook dev --rules deploy/rules.example.yaml`, post a callback, save the
// "history" object of GET http://127.0.0.1:8233/api/v1/namespaces/default/workflows/{id}/history under
// testdata/ as <workflow>_<version>.history.json, and add its workflow ID to recordedIDs.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.history.json")
	if err != nil {
		t.Fatal(err)
	}
	// Every history named in recordedIDs is there: deleting one must not pass unnoticed.
	for name := range recordedIDs {
		if !slices.Contains(files, filepath.Join("testdata", name)) {
			t.Errorf("recorded history %s is missing", name)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			id, ok := recordedIDs[filepath.Base(f)]
			if !ok {
				t.Fatalf("add the workflow ID of %s to recordedIDs", f)
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			history, err := client.HistoryFromJSON(bytes.NewReader(b), client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.SubjectWorkflow, workflow.RegisterOptions{Name: workflows.SubjectWorkflowType})
			r.RegisterWorkflow(workflows.CallCompletedWorkflow)
			r.RegisterWorkflow(workflows.FollowUpWorkflow)
			r.RegisterWorkflow(workflows.EventWorkflow)
			err = r.ReplayWorkflowHistoryWithOptions(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), history,
				worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id, RunID: "replay"}})
			if err != nil {
				t.Errorf("replay %s: %v", f, err)
			}
		})
	}
}
