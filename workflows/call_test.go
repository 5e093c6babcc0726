package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/payload"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
	"github.com/rudderhook/rudderhook/workflows"
)

func seedInput(t *testing.T) workflows.SubjectInput {
	t.Helper()
	return workflows.NewSubjectInput(airudder.CallSubject(airudder.ExampleCalls("airudder", time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC))[0]), false)
}

// setup returns a workflow test environment whose activities write to a fresh real database.
func setup(t *testing.T) (*testsuite.TestWorkflowEnvironment, *activities.Activities) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	acts := activities.New(store.New(storetest.DB(t)), &config.Config{}, slog.New(slog.DiscardHandler))
	env.RegisterWorkflowWithOptions(workflows.SubjectWorkflow, workflow.RegisterOptions{Name: workflows.SubjectWorkflowType})
	env.RegisterActivity(acts)
	return env, acts
}

func TestSubjectWorkflowStoresTheCall(t *testing.T) {
	t.Parallel()
	env, acts := setup(t)
	in := seedInput(t)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, in)

	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, err %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var res workflows.SubjectResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatalf("result %+v, %v", res, err)
	}
	rec, err := acts.Store.GetCall(context.Background(), "airudder", in.Call.Key)
	if err != nil {
		t.Fatal(err)
	}
	if rec.WorkflowID != "default-test-workflow-id" || rec.Call.Intention != "E" {
		t.Errorf("stored %+v", rec)
	}
}

func TestSubjectWorkflowRetriesUntilTheDatabaseIsBack(t *testing.T) {
	t.Parallel()
	env, acts := setup(t)
	in := seedInput(t)
	attempts := 0
	env.OnActivity(acts.StoreAndPlan, mock.Anything, mock.Anything).Return(func(ctx context.Context, pin activities.StoreAndPlanInput) (*activities.StoreAndPlanResult, error) {
		attempts++
		if attempts < 4 {
			return nil, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
		}
		return acts.StoreAndPlan(ctx, pin)
	})
	env.ExecuteWorkflow(workflows.SubjectWorkflow, in)

	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	if attempts != 4 {
		t.Errorf("attempts = %d, want 4", attempts)
	}
	if _, err := acts.Store.GetCall(context.Background(), "airudder", in.Call.Key); err != nil {
		t.Errorf("call not stored after recovery: %v", err)
	}
}

func TestSubjectWorkflowFailsVisiblyOnDataTheDatabaseRefuses(t *testing.T) {
	t.Parallel()
	env, acts := setup(t)
	attempts := 0
	env.OnActivity(acts.StoreAndPlan, mock.Anything, mock.Anything).Return(func(context.Context, activities.StoreAndPlanInput) (*activities.StoreAndPlanResult, error) {
		attempts++
		return nil, temporal.NewNonRetryableApplicationError("value too long", activities.ErrTypeInvalidData, nil)
	})
	env.ExecuteWorkflow(workflows.SubjectWorkflow, seedInput(t))

	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeInvalidData {
		t.Fatalf("workflow error = %v, want an %s application error", err, activities.ErrTypeInvalidData)
	}
	if attempts != 1 {
		t.Errorf("attempts = %d, want 1 (no retry)", attempts)
	}
}

func TestNamesAndSummary(t *testing.T) {
	in := seedInput(t)
	opts := workflows.SubjectStartOptions(in.Subject, "")
	if opts.ID != "call/airudder/cad907xxxxxxxx35644a" || opts.TaskQueue != workflows.TaskQueue {
		t.Errorf("ID, queue = %s, %s", opts.ID, opts.TaskQueue)
	}
	if q := workflows.SubjectStartOptions(in.Subject, "rudderhook-bench-1").TaskQueue; q != "rudderhook-bench-1" {
		t.Errorf("queue given rudderhook-bench-1 = %s", q)
	}
	if want := "Call to +86••••••••721: E (Needs Follow Up), finished, case 7777777.0"; opts.StaticSummary != want {
		t.Errorf("summary = %q, want %q", opts.StaticSummary, want)
	}
	if n := opts.TypedSearchAttributes.Size(); n != 7 {
		t.Errorf("search attributes = %d, want 7", n)
	}
	if got := workflows.UILink("http://127.0.0.1:8233/", "default", "call/airudder/a b"); got != "http://127.0.0.1:8233/namespaces/default/workflows/call%2Fairudder%2Fa%20b" {
		t.Errorf("UILink = %s", got)
	}
}

// A corrected redelivery signalled to the open run is stored as the next revision and planned; the same
// delivery signalled again is processed once.
func TestSubjectWorkflowProcessesRevisions(t *testing.T) {
	t.Parallel()
	env, acts := setup(t)
	first := seedInput(t)
	c := *first.Call
	c.Call.Intention = "PTP"
	c.ReceivedAt = first.Call.ReceivedAt.Add(time.Minute)
	c.Digest = "second-delivery"
	second := workflows.NewSubjectInput(airudder.CallSubject(c), false)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalRevision, second)
		env.SignalWorkflow(workflows.SignalRevision, first)
		env.SignalWorkflow(workflows.SignalRevision, second)
	}, 0)
	env.ExecuteWorkflow(workflows.SubjectWorkflow, first)

	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	var res workflows.SubjectResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Revisions) != 2 || res.Revisions[0] != 1 || res.Revisions[1] != 2 {
		t.Errorf("revisions processed = %v, want [1 2]", res.Revisions)
	}
	rec, err := acts.Store.GetCall(context.Background(), "airudder", first.Call.Key)
	if err != nil {
		t.Fatal(err)
	}
	revs, err := acts.Store.Revisions(context.Background(), rec.SubjectID)
	if err != nil || len(revs) != 2 {
		t.Fatalf("revisions stored = %+v, %v", revs, err)
	}
	if rec.Revision != 2 || rec.Call.Intention != "PTP" || revs[1].ProcessedAt == nil {
		t.Errorf("call shows revision %d (%s), second processed at %v", rec.Revision, rec.Call.Intention, revs[1].ProcessedAt)
	}
}

// Summaries and details fit Temporal's limits whatever the call holds, and say how many fields were kept
// as text; search attribute values are cut with a hash of the whole.
func TestSummaryFitsAndMentionsParseNotes(t *testing.T) {
	in := seedInput(t)
	in.Call.Call.IntentionDescription = strings.Repeat("<&>", 400)
	in.Call.Call.CaseID = strings.Repeat("7", 5000)
	in.Call.ParseNotes = []airudder.ParseNote{{Field: "DueDate", Text: "31/12/2024", Why: "not a date"}}
	opts := workflows.SubjectStartOptions(in.Subject, "")
	b, _ := json.Marshal(opts.StaticSummary)
	if len(b) > payload.SummaryTextLimit || !strings.HasPrefix(opts.StaticSummary, "Call to +86••••••••721: E (<&><&>") {
		t.Errorf("summary of %d bytes: %q", len(b), opts.StaticSummary)
	}
	in.Call.Call.IntentionDescription = "Needs Follow Up"
	in.Call.Call.CaseID = "7777777.0"
	if s := workflows.SubjectStartOptions(in.Subject, "").StaticSummary; !strings.HasSuffix(s, "case 7777777.0 · 1 parse note") {
		t.Errorf("summary = %q", s)
	}
	if d := workflows.SubjectStartOptions(in.Subject, "").StaticDetails; !strings.Contains(d, "**Parse notes**") || !strings.Contains(d, "DueDate: not a date") {
		t.Errorf("details = %q", d)
	}
}

// When the receiver computed a keyed hash of the callee number (RUDDERHOOK_PII_KEY), the CalleeNumber
// search attribute of a call's and an event's workflow holds it instead of the number; without one, the
// number, as before.
func TestCalleeNumberSearchAttributeHoldsTheHashWhenThereIsOne(t *testing.T) {
	in := seedInput(t)
	callee := func(opts interface {
		GetKeyword(temporal.SearchAttributeKeyKeyword) (string, bool)
	}) string {
		v, _ := opts.GetKeyword(workflows.CalleeNumberKey)
		return v
	}
	if got := callee(workflows.SubjectStartOptions(in.Subject, "").TypedSearchAttributes); got != "+86xxxxxxxx721" {
		t.Errorf("without a hash: CalleeNumber = %q", got)
	}
	in.Call.CalleeNumberHMAC = "0123456789abcdef0123456789abcdef"
	if got := callee(workflows.SubjectStartOptions(in.Subject, "").TypedSearchAttributes); got != in.Call.CalleeNumberHMAC {
		t.Errorf("call with a hash: CalleeNumber = %q", got)
	}
	ev := airudder.Event{Source: "airudder", Kind: "list-completed", On: "list_completed", Key: "k", CalleeNumber: "+86xxxxxxxx721",
		CalleeNumberHMAC: in.Call.CalleeNumberHMAC}
	if got := callee(workflows.SubjectStartOptions(airudder.EventSubject(ev), "").TypedSearchAttributes); got != ev.CalleeNumberHMAC {
		t.Errorf("event with a hash: CalleeNumber = %q", got)
	}
}
