package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// Error types of failed actions, as operators see them in the Temporal UI and in last_error.
const (
	ErrTypeTargetRejected      = "TargetRejected"      // the endpoint answered a 4xx other than 408 and 429
	ErrTypeTargetNotConfigured = "TargetNotConfigured" // the rule names a target this deployment lacks
	ErrTypeAirudderRejected    = "AirudderRejected"    // Airudder refused the re-call for good
	ErrTypeInvalidPlan         = "InvalidPlan"         // the follow-up's plan lacks the request its type needs
)

var attemptsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "rudderhook_follow_up_attempts_total",
	Help: "Attempts at follow-up actions, by type and outcome (succeeded, failed_retryable, failed_permanently).",
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
}

// NewHTTPClient is the client for webhooks, notifications and Airudder. It does not follow redirects: Go
// would follow a 302 with a GET and no body, and the follow-up would count as delivered; a 3xx fails it
// instead, with the status to show why.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// SendWebhook POSTs a follow-up's body to its target with Standard Webhooks headers: webhook-id is the
// follow-up's idempotency key, so a target that sees a repeat can drop it.
func (a *Activities) SendWebhook(ctx context.Context, in ActionInput) (*ActionResult, error) {
	req := in.FollowUp.Webhook
	if req == nil {
		return nil, temporal.NewNonRetryableApplicationError("the follow-up has no webhook", ErrTypeInvalidPlan, nil)
	}
	return a.attempt(ctx, in, func(ctx context.Context) (int, error) {
		url, signer, err := a.endpoint(req.Target, req.URL)
		if err != nil {
			return 0, err
		}
		body := req.Body
		if req.BodyStored {
			rec, err := a.Store.FollowUpByKey(ctx, in.FollowUp.Key)
			if err != nil {
				return 0, fmt.Errorf("read the stored body of %s: %w", in.FollowUp.Key, err)
			}
			body = rec.Plan.Webhook.Body
		}
		headers := http.Header{}
		for k, v := range req.Headers {
			headers.Set(k, v)
		}
		now := time.Now()
		headers.Set(standardwebhooks.HeaderWebhookID, in.FollowUp.Key)
		headers.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
		if signer != nil {
			sig, err := signer.Sign(in.FollowUp.Key, now, body)
			if err != nil {
				return 0, fmt.Errorf("sign webhook: %w", err)
			}
			headers.Set(standardwebhooks.HeaderWebhookSignature, sig)
		}
		return a.post(ctx, url, body, headers)
	})
}

// Notify posts a follow-up's text to a Slack-compatible incoming webhook.
func (a *Activities) Notify(ctx context.Context, in ActionInput) (*ActionResult, error) {
	req := in.FollowUp.Notify
	if req == nil {
		return nil, temporal.NewNonRetryableApplicationError("the follow-up has no notification", ErrTypeInvalidPlan, nil)
	}
	return a.attempt(ctx, in, func(ctx context.Context) (int, error) {
		url, _, err := a.endpoint(req.Target, req.URL)
		if err != nil {
			return 0, err
		}
		body, _ := json.Marshal(map[string]string{"text": req.Text})
		return a.post(ctx, url, body, http.Header{})
	})
}

// RecallThroughAirudder puts the callee back into an Airudder workflow: added to a running one
// (uploaddetails) or in a new instance of a template (createinstance).
func (a *Activities) RecallThroughAirudder(ctx context.Context, in ActionInput) (*ActionResult, error) {
	req := in.FollowUp.Recall
	if req == nil {
		return nil, temporal.NewNonRetryableApplicationError("the follow-up has no re-call", ErrTypeInvalidPlan, nil)
	}
	return a.attempt(ctx, in, func(ctx context.Context) (int, error) {
		if a.Airudder == nil || !a.Airudder.Configured() {
			return 0, temporal.NewNonRetryableApplicationError("Airudder API credentials are not configured (AIRUDDER_APP_KEY, AIRUDDER_APP_SECRET)", ErrTypeAirudderRejected, airudder.ErrNotConfigured)
		}
		details := []airudder.Detail{{Callee: req.Callee, Variables: req.Variables}}
		var code int
		var err error
		if req.TemplateID != "" {
			// Mechanical fix for the client's new CreateInstance: Airudder wants an integer template ID
			// and a required end_time, which the plan does not carry yet, so the client refuses the
			// request (ErrInvalidRequest, non-retryable) until the re-call is wired to give one.
			templateID, perr := strconv.ParseInt(req.TemplateID, 10, 64)
			if perr != nil {
				return 0, temporal.NewNonRetryableApplicationError(fmt.Sprintf("workflow_template_id %q is not an integer", req.TemplateID), ErrTypeAirudderRejected, perr)
			}
			var res *airudder.CreateInstanceResult
			if res, err = a.Airudder.CreateInstance(ctx, airudder.CreateInstanceRequest{TemplateID: templateID, Name: req.Name, Details: details}); res != nil {
				code = res.Code
			}
		} else {
			var resp *airudder.Response
			if resp, err = a.Airudder.UploadDetails(ctx, req.WorkflowID, details); resp != nil {
				code = resp.Code
			}
		}
		var apiErr *airudder.APIError
		switch {
		case errors.As(err, &apiErr) && !apiErr.Retryable:
			return apiErr.Code, temporal.NewNonRetryableApplicationError(apiErr.Error(), ErrTypeAirudderRejected, err)
		case errors.As(err, &apiErr):
			return apiErr.Code, err
		case err != nil:
			return 0, err
		}
		return code, nil
	})
}

// attempt runs one attempt of an action and keeps the follow-up's row up to date: running and counted
// before, the error and the time of the next attempt after a failure. The bookkeeping is best effort: an
// action that reached its target must not be repeated because a bookkeeping write failed, so such errors
// are logged, not returned. Success and final failure are recorded by the workflow.
func (a *Activities) attempt(ctx context.Context, in ActionInput, do func(context.Context) (int, error)) (*ActionResult, error) {
	info := activity.GetInfo(ctx)
	key := in.FollowUp.Key
	log := a.Log.With("follow_up", key, "rule", in.FollowUp.RuleID, "action", in.FollowUp.Action, "attempt", max(info.Attempt, in.Attempt))
	if err := a.Store.UpdateFollowUp(ctx, key, store.FollowUpUpdate{Status: rules.StatusRunning, CountAttempt: true, ClearNext: true}); err != nil {
		log.Warn("could not record the attempt", "error", err)
	}
	status, err := do(ctx)
	if err == nil {
		attemptsTotal.WithLabelValues(in.FollowUp.Type, "succeeded").Inc()
		log.Info("follow-up action done", "status", status)
		return &ActionResult{Status: status}, nil
	}
	msg := err.Error()
	u := store.FollowUpUpdate{LastError: &msg}
	if status != 0 {
		u.ResponseStatus = &status
	}
	var appErr *temporal.ApplicationError
	outcome := "failed_permanently"
	if !(errors.As(err, &appErr) && appErr.NonRetryable()) {
		outcome = "failed_retryable"
		attempt := info.Attempt
		if in.Attempt > 0 {
			attempt = in.Attempt
		}
		next := time.Now().Add(in.Retry.Delay(attempt, err))
		u.NextAttemptAt = &next
	}
	attemptsTotal.WithLabelValues(in.FollowUp.Type, outcome).Inc()
	if uerr := a.Store.UpdateFollowUp(ctx, key, u); uerr != nil {
		log.Warn("could not record the failed attempt", "error", uerr)
	}
	log.Warn("follow-up action failed", "status", status, "error", err)
	return nil, err
}

// endpoint resolves a target name (or a URL given in the rule) and the signer of its secret.
func (a *Activities) endpoint(target, url string) (string, *standardwebhooks.Webhook, error) {
	if target == "" {
		return url, nil, nil
	}
	t, ok := a.Targets[target]
	if !ok {
		return "", nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("target %q is not configured here (RUDDERHOOK_TARGET_%s_URL)", target,
			strings.ToUpper(strings.ReplaceAll(target, "-", "_"))), ErrTypeTargetNotConfigured, nil)
	}
	if t.Secret == "" {
		return t.URL, nil, nil
	}
	signer, err := newSigner(t)
	if err != nil {
		return "", nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("target %q: secret: %v", target, err), ErrTypeTargetNotConfigured, nil)
	}
	return t.URL, signer, nil
}

// newSigner reads a Standard Webhooks secret ("whsec_" + base64) or uses any other string as the key.
func newSigner(t *config.Target) (*standardwebhooks.Webhook, error) {
	if strings.HasPrefix(t.Secret, "whsec_") {
		return standardwebhooks.NewWebhook(t.Secret)
	}
	return standardwebhooks.NewWebhookRaw([]byte(t.Secret))
}

// post sends a JSON body and classifies the answer: 2xx is success; 408, 429 and 5xx (and no answer at
// all) are worth retrying, honouring Retry-After; any other status is a permanent refusal.
func (a *Activities) post(ctx context.Context, url string, body []byte, headers http.Header) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, temporal.NewNonRetryableApplicationError("bad request: "+err.Error(), ErrTypeTargetRejected, err)
	}
	req.Header = headers
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rudderhook")
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", redactURL(url), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	status := resp.StatusCode
	if status >= 200 && status < 300 {
		return status, nil
	}
	msg := fmt.Sprintf("%s answered HTTP %d: %s", redactURL(url), status, strings.TrimSpace(string(snippet)))
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		var delay time.Duration
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			delay = min(time.Duration(secs)*time.Second, time.Hour)
		}
		return status, temporal.NewApplicationErrorWithOptions(msg, "TargetUnavailable", temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	return status, temporal.NewNonRetryableApplicationError(msg, ErrTypeTargetRejected, nil)
}

// redactURL keeps scheme and host: incoming-webhook URLs carry their secret in the path.
func redactURL(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		if j := strings.IndexByte(raw[i+3:], '/'); j >= 0 {
			return raw[:i+3+j] + "/…"
		}
	}
	return raw
}
