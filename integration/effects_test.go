package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/ingest"
)

// waitForRuns is a Temporal client interceptor whose ExecuteWorkflow returns only once the run it
// started has ended: whatever the caller does after starting a run then happens after the run's own
// writes, the order that a fast run and a slow caller produce.
type waitForRuns struct {
	interceptor.ClientInterceptorBase
}

func (*waitForRuns) InterceptClient(next interceptor.ClientOutboundInterceptor) interceptor.ClientOutboundInterceptor {
	return &waitForRunsOutbound{ClientOutboundInterceptorBase: interceptor.ClientOutboundInterceptorBase{Next: next}}
}

type waitForRunsOutbound struct {
	interceptor.ClientOutboundInterceptorBase
}

func (w *waitForRunsOutbound) SignalWithStartWorkflow(ctx context.Context, in *interceptor.ClientSignalWithStartWorkflowInput) (client.WorkflowRun, error) {
	run, err := w.Next.SignalWithStartWorkflow(ctx, in)
	if err == nil {
		_ = run.Get(ctx, nil) // failed or not, it has ended
	}
	return run, err
}

func (w *waitForRunsOutbound) ExecuteWorkflow(ctx context.Context, in *interceptor.ClientExecuteWorkflowInput) (client.WorkflowRun, error) {
	run, err := w.Next.ExecuteWorkflow(ctx, in)
	if err == nil {
		_ = run.Get(ctx, nil) // failed or not, it has ended
	}
	return run, err
}

// The admin API's retry writes no status of its own after starting the run: a run that ends before the
// handler answers keeps the status it recorded.
func TestRetryCannotOverwriteWhatAFastRunRecorded(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusBadRequest))
	s := withCRM(t, crm, needsFollowUpRules)
	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, body)
	}
	s.waitWorkflow("call/airudder/" + seedCallID)
	fus := s.followUpsOfSeed()
	if len(fus) != 1 || fus[0].Status != "failed" {
		t.Fatalf("follow-ups = %+v", fus)
	}

	crm.setRespond(always(http.StatusOK))
	slow, err := client.NewClientFromExisting(s.client, client.Options{Interceptors: []interceptor.ClientInterceptor{&waitForRuns{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	s.serve(&ingest.Service{Temporal: slow, Store: s.store, Sources: s.cfg.Sources, Log: testLogger(t), Parallelism: 4, TaskQueue: s.cfg.Temporal.TaskQueue})
	if status, body := s.admin(http.MethodPost, fmt.Sprintf("/v1/follow-ups/%d/retry", fus[0].ID), nil); status != http.StatusAccepted {
		t.Fatalf("retry = %d %s", status, body)
	}
	// The run has ended (the interceptor waited for it) and recorded its success before the handler went
	// on: nothing may have written over it since.
	if fus := s.followUpsOfSeed(); fus[0].Status != "succeeded" || len(crm.received()) != 2 {
		t.Errorf("after retry: %+v, %d deliveries; want succeeded after one more", fus[0], len(crm.received()))
	}
}

// A re-call whose answer is lost after Airudder carried it out waits for review: it is listed, not
// repeated, and runs once more only when an operator retries it.
func TestRecallOfUnknownOutcomeWaitsForAnOperator(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	s := start(t, options{environ: []string{
		"AIRUDDER_BASE_URL=" + fa.URL, "AIRUDDER_APP_KEY=" + airuddertest.AppKey, "AIRUDDER_APP_SECRET=" + airuddertest.AppSecret,
	}})
	// It asks Airudder whether the re-call took an hour later (ask_after): the operator comes first here.
	const doc = "rules:\n  - id: recall\n    when: 'true'\n    actions: [{name: again, type: airudder_recall, workflow_id: wf-recall, ask_after: 1h}]\n"
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(doc)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	fa.Inject(airudder.UploadDetailsPath, airuddertest.Once(airuddertest.Fault{Status: http.StatusBadGateway, Effect: true}))
	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, body)
	}
	s.waitRows("SELECT count(*) FROM follow_ups WHERE status = 'needs_review'", 1)

	fu := s.onlyFollowUp("needs_review")
	if fu.Attempts != 1 || !strings.Contains(fu.LastError, "outcome unknown") || fa.Count(airudder.UploadDetailsPath) != 1 {
		t.Errorf("follow-up = %+v after %d requests", fu, fa.Count(airudder.UploadDetailsPath))
	}

	// The operator checked in Airudder and wants it again.
	if status, body := s.admin(http.MethodPost, fmt.Sprintf("/v1/follow-ups/%d/retry", fu.ID), nil); status != http.StatusAccepted {
		t.Fatalf("retry = %d %s", status, body)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client.GetWorkflow(wctx, fu.WorkflowID, "").Get(wctx, nil); err != nil {
		t.Fatalf("retried follow-up: %v", err)
	}
	status, body := s.get(fmt.Sprintf("/v1/follow-ups/%d", fu.ID))
	var after struct {
		followUpView
		AirudderWorkflowID string `json:"airudder_workflow_id"`
	}
	mustUnmarshal(t, body, &after)
	if status != http.StatusOK || after.Status != "succeeded" || after.AirudderWorkflowID != "wf-recall" || fa.Count(airudder.UploadDetailsPath) != 2 {
		t.Errorf("after retry = %d %s, %d requests", status, body, fa.Count(airudder.UploadDetailsPath))
	}
}
