package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/codec"
)

// TestPayloadsAreEncryptedInTemporal turns on payload encryption: the call still runs through, while
// the history Temporal keeps holds no personal data in the clear.
func TestPayloadsAreEncryptedInTemporal(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	s := start(t, options{environ: []string{"RUDDERHOOK_PAYLOAD_KEYS=k1:" + key}})
	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, body)
	}
	s.waitWorkflow("call/airudder/" + seedCallID)
	if _, err := s.store.GetCall(context.Background(), "airudder", seedCallID); err != nil {
		t.Fatalf("the call was not stored: %v", err)
	}

	iter := s.client.GetWorkflowHistory(context.Background(), "call/airudder/"+seedCallID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	checked := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		started := ev.GetWorkflowExecutionStartedEventAttributes()
		if started == nil {
			continue
		}
		for _, p := range append(started.GetInput().GetPayloads(), ev.GetUserMetadata().GetSummary()) {
			checked++
			if string(p.GetMetadata()["encoding"]) != codec.Encoding {
				t.Errorf("a payload is stored as %s", p.GetMetadata()["encoding"])
			}
			for _, pii := range []string{"WILL SMITH", "+86xxxxxxxx721", "20310.00"} {
				if bytes.Contains(p.GetData(), []byte(pii)) {
					t.Errorf("the history holds %q in the clear", pii)
				}
			}
		}
	}
	if checked != 2 {
		t.Errorf("checked %d payloads of the start event, want input and summary", checked)
	}
}
