package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"go.temporal.io/sdk/converter"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// With RUDDERHOOK_PII_KEY set, nothing that whoever reads Temporal sees names a callee's number: the
// CalleeNumber search attribute of a call's and a list completion's workflows holds the number's HMAC
// under the PII key (what `rudderhook pii hash` prints and the call record shows), and a list
// completion's workflow ID holds its HMAC under the installation's own key, kept in PostgreSQL.
func TestPIIKeyHidesCalleeNumbersFromTemporal(t *testing.T) {
	t.Parallel()
	const piiKey = "pii-key-for-the-integration-tests-0123"
	const number = "+86xxxxxxxx721" // the examples' callee
	s := start(t, options{environ: append(slices.Clone(eventsEnv), "RUDDERHOOK_PII_KEY="+piiKey)})
	hash := airudder.HashNumber([]byte(piiKey), number)

	if status, body := s.postKind("airudder", "s3cret", airudder.KindCallCompleted, airudder.ExampleCallCompleted); status != http.StatusOK {
		t.Fatalf("call completion = %d %s", status, body)
	}
	s.waitWorkflow("call/airudder/" + seedCallID)
	s.listed(`CallID = "`+seedCallID+`" AND CalleeNumber = "`+hash+`"`, 1)
	if got := s.calleeNumber("call/airudder/" + seedCallID); got != hash {
		t.Errorf("the call's workflow has CalleeNumber %q, want the hash %q", got, hash)
	}
	status, body := s.get("/v1/calls/" + seedCallID)
	var call struct {
		CalleeNumberHMAC string `json:"callee_number_hmac"`
		Call             struct{ CalleeNumber string }
	}
	if err := json.Unmarshal(body, &call); status != http.StatusOK || err != nil || call.CalleeNumberHMAC != hash || call.Call.CalleeNumber != number {
		t.Errorf("GET /v1/calls = %d: callee_number_hmac %q, number %q; want %q beside the number", status, call.CalleeNumberHMAC, call.Call.CalleeNumber, hash)
	}

	if status, body := s.postKind("airudder", "s3cret", airudder.KindListCompleted, airudder.ExampleListCompleted); status != http.StatusOK {
		t.Fatalf("list completion = %d %s", status, body)
	}
	idKey, err := s.store.InstallationKey(context.Background(), store.KeyNumberIDs)
	if err != nil {
		t.Fatal(err)
	}
	id := "event/airudder/list-completed/16e0660e6cxxxxxxxxxxxxxxxx0abfe0e191/7777777.0/tel:" + airudder.HashNumber(idKey, number)
	s.waitWorkflow(id)
	s.listed(`WorkflowId = "`+id+`" AND Kind = "list_completed" AND CalleeNumber = "`+hash+`"`, 1)
	if got := s.calleeNumber(id); got != hash {
		t.Errorf("the list completion's workflow has CalleeNumber %q, want the hash %q", got, hash)
	}
}

// calleeNumber is the CalleeNumber search attribute of workflow id's latest run, as Temporal keeps it
// with the run (not as its eventually consistent visibility lists it).
func (s *system) calleeNumber(id string) string {
	s.t.Helper()
	d, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		s.t.Fatal(err)
	}
	p := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.CalleeNumberKey.GetName()]
	var v string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
		s.t.Fatalf("CalleeNumber of %s: %v", id, err)
	}
	return v
}
