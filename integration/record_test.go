package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestRecordSubjectHistory records the history of a call's workflow (SubjectWorkflow) that takes a
// corrected redelivery while its follow-up waits, for workflows/replay_test.go. It runs only when
// RUDDERHOOK_RECORD_HISTORY names the file to write:
//
//	RUDDERHOOK_RECORD_HISTORY=$PWD/workflows/testdata/subject_v1.history.json \
//	go test ./integration -run TestRecordSubjectHistory
func TestRecordSubjectHistory(t *testing.T) {
	out := os.Getenv("RUDDERHOOK_RECORD_HISTORY")
	if out == "" {
		t.Skip("set RUDDERHOOK_RECORD_HISTORY to record a history")
	}
	crm := newTarget(t, always(http.StatusOK))
	// The delay counts from the call's end, up to a minute before the tests began: long enough to find
	// the run open when the corrected delivery comes, short enough to wait for.
	s := withCRM(t, crm, revisionRules("90s"))
	id := "call/airudder/" + seedCallID
	s.postWhileOpen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.client.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	record(t, s, id, out)
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
