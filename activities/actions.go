package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// Error types of failed actions, as operators see them in the Temporal UI and in last_error.
const (
	ErrTypeTargetRejected      = "TargetRejected"      // the endpoint answered a 4xx other than 408 and 429
	ErrTypeTargetNotConfigured = "TargetNotConfigured" // the rule names a target this deployment lacks
	ErrTypeAirudderRejected    = "AirudderRejected"    // Airudder refused the re-call for good
	ErrTypeInvalidPlan         = "InvalidPlan"         // the follow-up's plan lacks the request its type needs
	// ErrTypeDestinationRefused is a webhook or notification whose URL names, or resolves to, an address
	// it may not reach (loopback, private, link-local, metadata, …; see egress): refused before anything
	// is sent, and not retried. A name that DNS resolved there fails for good too, rather than being
	// asked again for 72 hours: it is a mistake or an attempt, and the reason is on the follow-up;
	// an operator retries it once the rule, the target or DNS is fixed.
	ErrTypeDestinationRefused = "DestinationRefused"
	// ErrTypeOutcomeUnknown is an attempt that may have been carried out although it did not succeed (a
	// timeout or cut connection after sending, a 5xx), of an action that must not be repeated blindly
	// (on_unknown: review): the follow-up waits for an operator, as needs_review.
	ErrTypeOutcomeUnknown = "OutcomeUnknown"
)

var attemptsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "rudderhook_follow_up_attempts_total",
	Help: "Attempts at follow-up actions, by type and outcome (succeeded, failed_retryable, failed_permanently, outcome_unknown).",
}, []string{"type", "outcome"})

// RetrySchedule mirrors the retry policy the workflow gives an action, so that the action can record
// when its next attempt will be.
type RetrySchedule struct {
	Initial     time.Duration `json:"initial"`
	Coefficient float64       `json:"coefficient"`
	Maximum     time.Duration `json:"maximum"`
}

// After is the delay before the attempt following attempt n (1-based).
func (r RetrySchedule) After(n int32) time.Duration {
	d := float64(r.Initial) * math.Pow(r.Coefficient, float64(n-1))
	return min(time.Duration(d), r.Maximum)
}

// Delay is the wait before the attempt that follows attempt n, which failed with err: the target's own
// Retry-After when it gave one, otherwise the schedule's. The workflow waits this long; the activity
// records it as the follow-up's next attempt.
func (r RetrySchedule) Delay(n int32, err error) time.Duration {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NextRetryDelay() > 0 {
		return appErr.NextRetryDelay()
	}
	return r.After(n)
}

// ActionInput is one attempt at a follow-up's action.
type ActionInput struct {
	FollowUp rules.FollowUp `json:"follow_up"`
	Retry    RetrySchedule  `json:"retry"`
	// Attempt is the workflow's count of attempts, when the workflow retries (0: the activity's own).
	Attempt int32 `json:"attempt,omitempty"`
}

// ActionResult is what the target answered.
type ActionResult struct {
	// Status is the HTTP status of a webhook or notification, or Airudder's code for a re-call.
	Status int `json:"status"`
	// AirudderWorkflowID is the Airudder workflow a re-call went into: the instance createinstance
	// created (as its answer names it), or the one uploaddetails added the callee to.
	AirudderWorkflowID string `json:"airudder_workflow_id,omitempty"`
}

// NewHTTPClient is the client for Airudder's API, whose base URL the operator configured (it may be a
// fake or a proxy inside the network). It does not follow redirects: Go would follow a 302 with a GET and
// no body, and the follow-up would count as delivered; a 3xx fails it instead, with the status to show
// why. It sets no timeout of its own: the Airudder client bounds each exchange
// (airudder.DefaultRequestTimeout), and the workflow gives an attempt the time its exchanges may take.
func NewHTTPClient() *http.Client {
	return &http.Client{CheckRedirect: noRedirects}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// newOutboundClient is a client for webhooks and notifications whose dialer refuses, after DNS, every
// address p does not allow (egress.Policy.Control): a name that resolves inside, or whose answer changed
// since the rules were saved, is refused as a literal address is. It follows no redirect (as
// NewHTTPClient; the dialer would refuse a redirect inside anyway) and ignores HTTP_PROXY and
// HTTPS_PROXY: through a proxy the dialer would see the proxy's address, not the destination's.
func newOutboundClient(p egress.Policy) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: outboundTransport(p), CheckRedirect: noRedirects}
}

// outboundTransport is the transport of every client that sends where a rule or a sender says: its
// dialer refuses what p does not allow, and it ignores proxies (see newOutboundClient).
func outboundTransport(p egress.Policy) *http.Transport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, ControlContext: p.Control}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	transport.DialContext = dialer.DialContext
	return transport
}

// outboundClient is the client that sends to destinations of policy p (one per policy, so that a
// connection opened for a target allowed inside is never reused for a rule's url:).
func (a *Activities) outboundClient(p egress.Policy) *http.Client {
	a.outboundMu.Lock()
	defer a.outboundMu.Unlock()
	if a.outbound == nil {
		a.outbound = map[egress.Policy]*http.Client{}
	}
	c := a.outbound[p]
	if c == nil {
		c = newOutboundClient(p)
		a.outbound[p] = c
	}
	return c
}

// SendWebhook POSTs a follow-up's body to its target with Standard Webhooks headers: webhook-id is the
// follow-up's idempotency key, so a target that sees a repeat can drop it.
func (a *Activities) SendWebhook(ctx context.Context, in ActionInput) (*ActionResult, error) {
	return a.attemptAction(ctx, in)
}

// Notify posts a follow-up's text to a Slack-compatible incoming webhook.
func (a *Activities) Notify(ctx context.Context, in ActionInput) (*ActionResult, error) {
	return a.attemptAction(ctx, in)
}

// RecallThroughAirudder puts the callee back into an Airudder workflow: added to a running one
// (uploaddetails) or to a new instance of a template (createinstance, which stops calling at the plan's
// end time, written in the Airudder account's zone; then uploaddetails into it). An attempt whose outcome
// is unknown is not repeated unless the rule says on_unknown: retry (see airudderError).
func (a *Activities) RecallThroughAirudder(ctx context.Context, in ActionInput) (*ActionResult, error) {
	return a.attemptAction(ctx, in)
}

// CancelContactThroughAirudder cancels the remaining calls of a task to one number: in a workflow task
// (cancelcontact, whose path is configurable) or a predictive-dialer task (canceltaskcontacts). A cancel
// cannot reach a person and repeating it is harmless, so by default an attempt of unknown outcome is
// repeated (on_unknown: retry); the rule may say review.
func (a *Activities) CancelContactThroughAirudder(ctx context.Context, in ActionInput) (*ActionResult, error) {
	return a.attemptAction(ctx, in)
}

// attemptAction makes one attempt at a follow-up's action, keeping its row as FollowUpWorkflow expects
// (see attemptWith).
func (a *Activities) attemptAction(ctx context.Context, in ActionInput) (*ActionResult, error) {
	act, err := a.actionOf(in.FollowUp)
	if err != nil {
		return nil, err
	}
	return a.attemptWith(ctx, in, act.do, act.done)
}

// action is one attempt's work for a follow-up: do carries it out and says what the target answered
// (an HTTP status, Airudder's code); done, when set, completes the result of an attempt that succeeded.
type action struct {
	do   func(context.Context) (int, error)
	done func(*ActionResult)
}

// actionOf is the work of the follow-up's action type; a plan that lacks its type's request fails for
// good.
func (a *Activities) actionOf(fu rules.FollowUp) (action, error) {
	missing := func(what string) (action, error) {
		return action{}, temporal.NewNonRetryableApplicationError("the follow-up has no "+what, ErrTypeInvalidPlan, nil)
	}
	switch fu.Type {
	case rules.TypeWebhook:
		if fu.Webhook == nil {
			return missing("webhook")
		}
		return action{do: func(ctx context.Context) (int, error) { return a.sendWebhook(ctx, fu) }}, nil
	case rules.TypeNotify:
		if fu.Notify == nil {
			return missing("notification")
		}
		return action{do: func(ctx context.Context) (int, error) { return a.notify(ctx, fu) }}, nil
	case rules.TypeAirudderCancelContact:
		if fu.Cancel == nil {
			return missing("cancel")
		}
		return action{do: func(ctx context.Context) (int, error) { return a.cancelContact(ctx, fu) }}, nil
	case rules.TypeArchiveRecording:
		if fu.Recording == nil {
			return missing("recording to archive")
		}
		return action{do: func(ctx context.Context) (int, error) { return a.archiveRecording(ctx, fu) }}, nil
	default:
		if fu.Recall == nil {
			return missing("re-call")
		}
		var into string
		return action{
			do:   func(ctx context.Context) (int, error) { return a.recall(ctx, fu, &into) },
			done: func(r *ActionResult) { r.AirudderWorkflowID = into },
		}, nil
	}
}

// sendWebhook POSTs the follow-up's body. RunFollowUp reads a body the plan left in the store when it
// starts the attempt; the activity of FollowUpWorkflow, which runs its executions still open, reads it
// here.
func (a *Activities) sendWebhook(ctx context.Context, fu rules.FollowUp) (int, error) {
	req := fu.Webhook
	dest, err := a.endpoint(req.Target, req.URL)
	if err != nil {
		return 0, err
	}
	body := req.Body
	if req.BodyStored {
		rec, err := a.Store.FollowUpByKey(ctx, fu.Key)
		if err != nil {
			return 0, fmt.Errorf("read the stored body of %s: %w", fu.Key, err)
		}
		body = rec.Plan.Webhook.Body
	}
	headers := http.Header{}
	for k, v := range req.Headers {
		headers.Set(k, v)
	}
	now := time.Now()
	headers.Set(standardwebhooks.HeaderWebhookID, fu.Key)
	headers.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	if dest.signer != nil {
		sig, err := dest.signer.Sign(fu.Key, now, body)
		if err != nil {
			return 0, fmt.Errorf("sign webhook: %w", err)
		}
		headers.Set(standardwebhooks.HeaderWebhookSignature, sig)
	}
	return a.post(ctx, dest, body, headers, fu.AtMostOnce())
}

// notify posts the follow-up's text.
func (a *Activities) notify(ctx context.Context, fu rules.FollowUp) (int, error) {
	req := fu.Notify
	dest, err := a.endpoint(req.Target, req.URL)
	if err != nil {
		return 0, err
	}
	body, _ := json.Marshal(map[string]string{"text": req.Text})
	return a.post(ctx, dest, body, http.Header{}, fu.AtMostOnce())
}

// recall asks Airudder to call the callee again; into is set to the Airudder workflow the callee went
// into. From a template, it is two calls, as Airudder's API has them: createinstance makes the instance
// (it takes no callees), whose workflow_id is kept on the follow-up at once, and uploaddetails adds the
// callee to it; a later attempt finds the instance kept and only adds the callee, so that one follow-up
// never makes two instances that call.
func (a *Activities) recall(ctx context.Context, fu rules.FollowUp, into *string) (int, error) {
	req := fu.Recall
	if err := a.airudderConfigured(a.Airudder != nil && a.Airudder.Configured(), "AIRUDDER_APP_KEY, AIRUDDER_APP_SECRET"); err != nil {
		return 0, err
	}
	workflowID := req.WorkflowID
	if req.TemplateID != "" {
		var code int
		var err error
		if workflowID, code, err = a.instanceFor(ctx, fu); err != nil {
			return code, err
		}
	}
	resp, err := a.Airudder.UploadDetails(ctx, workflowID, []airudder.Detail{{Callee: req.Callee, Variables: req.Variables}})
	if err != nil {
		return airudderCode(err), a.airudderError(err, fu)
	}
	*into = workflowID
	return resp.Code, nil
}

// instanceFor is the Airudder workflow a re-call from a template adds its callee to: the instance an
// earlier attempt created (kept on the follow-up), or a new one. A new instance is named by the rule's
// instance_name and a suffix of the follow-up's key (rules.RecallRequest.InstanceName); should Airudder
// say the name is taken, it is asked once more under another suffix.
func (a *Activities) instanceFor(ctx context.Context, fu rules.FollowUp) (workflowID string, code int, err error) {
	req := fu.Recall
	rec, err := a.Store.FollowUpByKey(ctx, fu.Key)
	if err != nil {
		return "", 0, classifyDBError(fmt.Errorf("read %s for the instance an earlier attempt made: %w", fu.Key, err))
	}
	if rec.AirudderWorkflowID != "" {
		return rec.AirudderWorkflowID, 0, nil
	}
	templateID, err := rules.ParseTemplateID(req.TemplateID)
	if err != nil { // a plan stored before rules checked it
		return "", 0, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeAirudderRejected, err)
	}
	create := airudder.CreateInstanceRequest{TemplateID: templateID, EndTime: fu.InstanceEnd(a.now()), Location: a.airudderZone(fu),
		AutoFinish: req.AutoFinish}
	var res *airudder.CreateInstanceResult
	for try := 0; ; try++ {
		create.Name = req.InstanceName(fu.Key, try)
		res, err = a.Airudder.CreateInstance(ctx, create)
		if err == nil || try > 0 || !airudder.IsDuplicateName(err) {
			break
		}
		a.Log.Warn("Airudder says the instance's name is taken; asking under another", "follow_up", fu.Key, "name", create.Name, "error", err)
	}
	if err != nil {
		return "", airudderCode(err), a.airudderError(err, fu)
	}
	if res.WorkflowID == "" {
		// The instance exists, and nobody can add the callee to it: another attempt would only make another.
		return "", res.Code, temporal.NewNonRetryableApplicationError(fmt.Sprintf("Airudder created the instance %q but its answer names no "+
			"workflow_id, so the callee cannot be added to it (answer: %.200s)", create.Name, res.Data), ErrTypeAirudderRejected, nil)
	}
	// Kept before the callee is added, so that a later attempt adds it to this instance, not a new one. If
	// it cannot be kept, the callee is still added now; a later attempt would make an instance more.
	if err := a.Store.UpdateFollowUp(ctx, fu.Key, store.FollowUpUpdate{AirudderWorkflowID: res.WorkflowID}); err != nil {
		a.Log.Warn("could not keep the new instance on the follow-up", "follow_up", fu.Key, "airudder_workflow_id", res.WorkflowID, "error", err)
	}
	return res.WorkflowID, res.Code, nil
}

// cancelContact cancels the callee's remaining calls in the task.
func (a *Activities) cancelContact(ctx context.Context, fu rules.FollowUp) (int, error) {
	req := fu.Cancel
	var res *airudder.CancelResult
	var err error
	if req.API == rules.CancelAPIPDS {
		if err := a.airudderConfigured(a.Airudder != nil && a.Airudder.PDSConfigured(), "AIRUDDER_PDS_APP_KEY, AIRUDDER_PDS_APP_SECRET or AIRUDDER_APP_KEY, AIRUDDER_APP_SECRET"); err != nil {
			return 0, err
		}
		res, err = a.Airudder.CancelTaskContacts(ctx, airudder.CancelTaskContactsRequest{TaskID: req.TaskID, Numbers: []string{req.Callee}})
	} else {
		if err := a.airudderConfigured(a.Airudder != nil && a.Airudder.Configured(), "AIRUDDER_APP_KEY, AIRUDDER_APP_SECRET"); err != nil {
			return 0, err
		}
		res, err = a.Airudder.CancelContact(ctx, airudder.CancelContactRequest{TaskID: req.TaskID, Callee: req.Callee})
	}
	if err != nil {
		return airudderCode(err), a.airudderError(err, fu)
	}
	if res.Listed && len(res.Cancelled) == 0 {
		// Not an error: the number had no call pending (already called, or cancelled by an earlier
		// attempt whose answer was lost).
		a.Log.Info("Airudder had no pending call to cancel for the number", "follow_up", fu.Key, "task_id", req.TaskID,
			"callee_number", airudder.MaskPhone(req.Callee))
	}
	return res.Code, nil
}

// airudderConfigured refuses, for good, an action whose Airudder credentials are not set.
func (a *Activities) airudderConfigured(ok bool, vars string) error {
	if ok {
		return nil
	}
	return temporal.NewNonRetryableApplicationError("Airudder API credentials are not configured ("+vars+")", ErrTypeAirudderRejected, airudder.ErrNotConfigured)
}

// airudderZone is the zone Airudder reads times in: the account's (AIRUDDER_TIME_ZONE), else the rules'.
func (a *Activities) airudderZone(fu rules.FollowUp) *time.Location {
	if a.AirudderZone != nil {
		return a.AirudderZone
	}
	loc, err := time.LoadLocation(fu.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// airudderCode is Airudder's code in a failed call's answer, 0 when there was none.
func airudderCode(err error) int {
	var apiErr *airudder.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return 0
}

// airudderError says what a failed Airudder call means for the follow-up:
//
//   - refused for good, and certainly not carried out: fail (AirudderRejected);
//   - maybe carried out (OutcomeUnknown): for an action that must not be repeated blindly
//     (FollowUp.AtMostOnce), stop for an operator (ErrTypeOutcomeUnknown); otherwise retry, as for any
//     passing failure, if the client says a retry may help;
//   - certainly not carried out, and a retry may help: retry.
func (a *Activities) airudderError(err error, fu rules.FollowUp) error {
	var apiErr *airudder.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch {
	case apiErr.OutcomeUnknown && fu.AtMostOnce():
		return outcomeUnknown(apiErr.Error())
	case !apiErr.Retryable:
		return temporal.NewNonRetryableApplicationError(apiErr.Error(), ErrTypeAirudderRejected, err)
	}
	return temporal.NewApplicationErrorWithOptions(apiErr.Error(), "AirudderUnavailable", temporal.ApplicationErrorOptions{})
}

// outcomeUnknown is the failure of an attempt that may have been carried out, of an action that is not
// repeated without an operator.
func outcomeUnknown(msg string) error {
	return temporal.NewNonRetryableApplicationError("outcome unknown, not repeated (on_unknown: review): "+msg, ErrTypeOutcomeUnknown, nil)
}

// attemptWith runs one attempt of an action for FollowUpWorkflow and keeps the follow-up's row up to
// date: running and counted before, the error and the time of the next attempt after a failure. The
// bookkeeping is best effort: an action that reached its target must not be repeated because a
// bookkeeping write failed, so such errors are logged, not returned. Success and final failure are
// recorded by the workflow.
func (a *Activities) attemptWith(ctx context.Context, in ActionInput, do func(context.Context) (int, error), done func(*ActionResult)) (*ActionResult, error) {
	info := activity.GetInfo(ctx)
	key := in.FollowUp.Key
	log := a.Log.With("follow_up", key, "rule", in.FollowUp.RuleID, "action", in.FollowUp.Action, "attempt", max(info.Attempt, in.Attempt))
	if err := a.Store.UpdateFollowUp(ctx, key, store.FollowUpUpdate{Status: rules.StatusRunning, CountAttempt: true, ClearNext: true}); err != nil {
		log.Warn("could not record the attempt", "error", err)
	}
	status, err := do(ctx)
	if err == nil {
		attemptsTotal.WithLabelValues(in.FollowUp.Type, "succeeded").Inc()
		res := &ActionResult{Status: status}
		if done != nil {
			done(res)
		}
		log.Info("follow-up action done", "status", status, "airudder_workflow_id", res.AirudderWorkflowID)
		return res, nil
	}
	// Nothing that leaves the activity (last_error, logs, Temporal's failure) may repeat a secret URL.
	err = redactError(err, a.secretURLs(in.FollowUp))
	msg := err.Error()
	u := store.FollowUpUpdate{LastError: &msg}
	if status != 0 {
		u.ResponseStatus = &status
	}
	var appErr *temporal.ApplicationError
	outcome := "failed_permanently"
	switch {
	case errors.As(err, &appErr) && appErr.Type() == ErrTypeOutcomeUnknown:
		outcome = "outcome_unknown"
	case !(errors.As(err, &appErr) && appErr.NonRetryable()):
		outcome = "failed_retryable"
		attempt := info.Attempt
		if in.Attempt > 0 {
			attempt = in.Attempt
		}
		// The next attempt keeps the calling window, as the workflow waits for it.
		next := in.FollowUp.Earliest(time.Now().Add(in.Retry.Delay(attempt, err)))
		u.NextAttemptAt = &next
	}
	attemptsTotal.WithLabelValues(in.FollowUp.Type, outcome).Inc()
	if uerr := a.Store.UpdateFollowUp(ctx, key, u); uerr != nil {
		log.Warn("could not record the failed attempt", "error", uerr)
	}
	log.Warn("follow-up action failed", "status", status, "error", err)
	return nil, err
}

// destination is where a webhook or notification goes, and what it may reach there.
type destination struct {
	url    string
	signer *standardwebhooks.Webhook
	policy egress.Policy
	// limits says, when the destination is refused, what it may reach and how that is changed.
	limits string
}

// endpoint resolves a target name (or a URL given in the rule): its URL, the signer of its secret, and
// what it may reach (a rule's url: public addresses; a target private ones too, if it says so).
func (a *Activities) endpoint(target, url string) (destination, error) {
	if target == "" {
		return destination{url: url, policy: a.RuleURLs, limits: rules.URLLimits}, nil
	}
	env := strings.ToUpper(strings.ReplaceAll(target, "-", "_"))
	t, ok := a.Targets[target]
	if !ok {
		return destination{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("target %q is not configured here (RUDDERHOOK_TARGET_%s_URL)", target,
			env), ErrTypeTargetNotConfigured, nil)
	}
	dest := destination{url: t.URL, policy: t.Policy(a.RuleURLs),
		limits: fmt.Sprintf("target %q may reach only public addresses unless its configuration says allow_private: true (RUDDERHOOK_TARGET_%s_ALLOW_PRIVATE=true)", target, env)}
	if t.AllowPrivate {
		dest.limits = fmt.Sprintf("target %q may reach public and private addresses (allow_private), never link-local, metadata or special-purpose ones", target)
	}
	if t.Secret == "" {
		return dest, nil
	}
	signer, err := newSigner(t)
	if err != nil {
		return destination{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("target %q: secret: %v", target, err), ErrTypeTargetNotConfigured, nil)
	}
	dest.signer = signer
	return dest, nil
}

// refused is the permanent failure of an attempt whose destination the policy does not allow: nothing
// was sent. host is the URL's host, named beside the address it resolved to.
func refused(err error, host string, dest destination) error {
	var r *egress.RefusedError
	if errors.As(err, &r) { // and only it: net/http's error around it names the whole URL
		named := *r
		if named.Host == "" {
			named.Host = host
		}
		err = &named
	}
	return temporal.NewNonRetryableApplicationError("refused: "+err.Error()+"; "+dest.limits, ErrTypeDestinationRefused, nil)
}

// newSigner reads a Standard Webhooks secret ("whsec_" + base64) or uses any other string as the key.
func newSigner(t *config.Target) (*standardwebhooks.Webhook, error) {
	if strings.HasPrefix(t.Secret, "whsec_") {
		return standardwebhooks.NewWebhook(t.Secret)
	}
	return standardwebhooks.NewWebhookRaw([]byte(t.Secret))
}

// post sends a JSON body and classifies the answer: 2xx is success; 408, 429 and 5xx (and no answer at
// all) are worth retrying, honouring Retry-After; any other status is a permanent refusal. When the
// request may have been carried out without success being seen (a 5xx, or no answer once the whole
// request was written) and atMostOnce is set, the attempt's outcome is unknown and it is not repeated.
//
// A destination its policy does not allow is refused for good before anything is sent: the dialer checks
// every address it connects to, a literal one or what a name resolved to; a name that means a
// destination by itself (localhost, metadata.google.internal, which resolves only inside Google's cloud
// and would otherwise fail as DNS, again and again) is refused before DNS is asked.
func (a *Activities) post(ctx context.Context, dest destination, body []byte, headers http.Header, atMostOnce bool) (int, error) {
	rawURL := dest.url
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, temporal.NewNonRetryableApplicationError("bad request to "+redactURL(rawURL)+": "+innerError(err).Error(), ErrTypeTargetRejected, nil)
	}
	host := req.URL.Hostname()
	if _, notLiteral := netip.ParseAddr(host); notLiteral != nil { // a literal address is the dialer's to check
		if err := dest.policy.CheckHost(host); err != nil {
			return 0, refused(err, host, dest)
		}
	}
	req.Header = headers
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rudderhook")
	resp, err := a.outboundClient(dest.policy).Do(req)
	if errors.As(err, new(*egress.RefusedError)) {
		return 0, refused(err, host, dest)
	}
	if err != nil {
		// net/http's error repeats the whole URL, secret path and all: only its cause is kept.
		msg := fmt.Sprintf("POST %s: %v", redactURL(rawURL), innerError(err))
		if wrote.Load() && atMostOnce {
			return 0, outcomeUnknown(msg + " (after the request was sent)")
		}
		return 0, errors.New(msg)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	status := resp.StatusCode
	if status >= 200 && status < 300 {
		return status, nil
	}
	msg := fmt.Sprintf("%s answered HTTP %d: %s", redactURL(rawURL), status, strings.TrimSpace(string(snippet)))
	if status >= 500 && atMostOnce {
		return status, outcomeUnknown(msg)
	}
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		var delay time.Duration
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			delay = min(time.Duration(secs)*time.Second, time.Hour)
		}
		return status, temporal.NewApplicationErrorWithOptions(msg, "TargetUnavailable", temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	return status, temporal.NewNonRetryableApplicationError(msg, ErrTypeTargetRejected, nil)
}

// innerError is err without net/http's *url.Error around it, which names the whole URL.
func innerError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactURL keeps scheme and host: incoming-webhook URLs carry their secret in the path, query or
// user-info.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(an unreadable URL)"
	}
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/…"
	}
	return s
}

// secretURLs are the URLs an action of fu may send to, whose paths must not leave the activity.
func (a *Activities) secretURLs(fu rules.FollowUp) []string {
	var out []string
	add := func(target, raw string) {
		if t := a.Targets[target]; target != "" && t != nil {
			raw = t.URL
		}
		if raw != "" {
			out = append(out, raw)
		}
	}
	if fu.Webhook != nil {
		add(fu.Webhook.Target, fu.Webhook.URL)
	}
	if fu.Notify != nil {
		add(fu.Notify.Target, fu.Notify.URL)
	}
	if fu.Recording != nil {
		add("", fu.Recording.URL) // a recording link may carry a token
	}
	return out
}

// redactError replaces, in err's message, every URL of urls (as written, or as net/http re-writes it,
// or its path and query alone) with its redacted form. An error that names none is returned as it is;
// one that does is rebuilt without its cause, which names it too, keeping its type and retry options.
func redactError(err error, urls []string) error {
	msg := err.Error()
	var secrets [][2]string
	for _, raw := range urls {
		secrets = append(secrets, [2]string{raw, redactURL(raw)})
		if u, perr := url.Parse(raw); perr == nil {
			secrets = append(secrets, [2]string{u.String(), redactURL(raw)})
			if rest := strings.TrimPrefix(u.RequestURI(), "/"); len(rest) >= 4 {
				secrets = append(secrets, [2]string{rest, "…"})
			}
		}
	}
	scrub := func(s string) string {
		for _, sec := range secrets {
			s = strings.ReplaceAll(s, sec[0], sec[1])
		}
		return s
	}
	if scrub(msg) == msg {
		return err
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return temporal.NewApplicationErrorWithOptions(scrub(appErr.Message()), appErr.Type(), temporal.ApplicationErrorOptions{
			NonRetryable: appErr.NonRetryable(), NextRetryDelay: appErr.NextRetryDelay(),
		})
	}
	return errors.New(scrub(msg))
}
