package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/rudderhook/rudderhook/workflows"
)

// TestRecordCallCompletedHistory records the history of a call's workflow that takes a corrected
// redelivery while its follow-up waits, for workflows/replay_test.go. It runs only when
// RUDDERHOOK_RECORD_HISTORY names the file to write:
//
//	RUDDERHOOK_RECORD_HISTORY=$PWD/workflows/testdata/call_completed_v3.history.json \
//	RUDDERHOOK_RECORD_FOLLOWUP_HISTORY=$PWD/workflows/testdata/follow_up_v4.history.json \
//	go test ./integration -run TestRecordCallCompletedHistory
func TestRecordCallCompletedHistory(t *testing.T) {
	out := os.Getenv("RUDDERHOOK_RECORD_HISTORY")
	if out == "" {
		t.Skip("set RUDDERHOOK_RECORD_HISTORY to record a history")
	}
	crm := newTarget(t, always(http.StatusOK))
	s := withCRM(t, crm, revisionRules("3s"))
	id := "call/airudder/" + seedCallID
	s.postWhileOpen(t)
	s.waitWorkflow(id)
	record(t, s, id, out)
	// RUDDERHOOK_RECORD_FOLLOWUP_HISTORY also records the history of its first follow-up.
	if fu := os.Getenv("RUDDERHOOK_RECORD_FOLLOWUP_HISTORY"); fu != "" {
		record(t, s, workflows.FollowUpWorkflowID(id, "needs-follow-up", "later"), fu)
	}
}

// record writes the history of workflow id to the file out.
func record(t *testing.T, s *system, id, out string) {
	t.Helper()
	history := &historypb.History{}
	iter := s.client.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		history.Events = append(history.Events, e)
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: " "}.Marshal(history)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Clean(out), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events of %s in %s", len(history.Events), id, out)
}
