package airudder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	// DefaultRequestTimeout bounds one exchange with Airudder (a token request, or a call): connecting,
	// sending and reading the answer. Airudder can be slow to answer; a public integrator gives its PDS
	// calls 120 s to connect and to read, which it names the recommended timeout (docs/airudder-api.md).
	DefaultRequestTimeout = 120 * time.Second
	// maxAnswerBytes bounds how much of an answer is read: Airudder's envelopes are small, and a runaway
	// body (a proxy's error page, a misrouted download) must not exhaust memory.
	maxAnswerBytes = 1 << 20
	// maxSnippet bounds how much of a body that is not Airudder's envelope goes into an error message.
	maxSnippet = 200

	contentTypeJSON = "application/json"
	contentTypeForm = "application/x-www-form-urlencoded"
)

// Detail is one callee handed to an Airudder workflow.
type Detail struct {
	Callee    string            `json:"callee"`
	Variables map[string]string `json:"variables,omitempty"`
}

// ClientOption adjusts a Client built by NewClient.
type ClientOption func(*settings)

// settings are what options set, before NewClient builds the client from them.
type settings struct {
	now               func() time.Time
	requestTimeout    time.Duration
	loc               *time.Location
	cancelContactPath string
	pdsBase           string
	pdsKey, pdsSecret string
	pdsOwnCreds       bool
}

// WithClock replaces time.Now as the clock that dates tokens, so that tests can age a token past its
// renewal without waiting a day.
func WithClock(now func() time.Time) ClientOption {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// WithRequestTimeout bounds each exchange with Airudder (a token request, or a call) to d instead of
// DefaultRequestTimeout; zero or less keeps the default. A call that renews its token makes up to four
// exchanges (see Client), and whoever calls must give it the time they take.
func WithRequestTimeout(d time.Duration) ClientOption {
	return func(s *settings) {
		if d > 0 {
			s.requestTimeout = d
		}
	}
}

// WithLocation sets the Airudder account's time zone, in which every time sent to Airudder is written
// (see TimeLayout). A request's own Location, where it has one, wins. Without either, a request that
// carries a time is refused before sending: a time in the wrong zone would be silently hours off.
func WithLocation(loc *time.Location) ClientOption {
	return func(s *settings) { s.loc = loc }
}

// WithPDSBase sets where the PDS family lives: a path prefix under the client's base URL (default
// DefaultPDSBasePath), or an absolute http(s) URL when it is on a host of its own. "" keeps the default.
func WithPDSBase(base string) ClientOption {
	return func(s *settings) {
		if base != "" {
			s.pdsBase = base
		}
	}
}

// WithPDSCredentials sets the PDS family's APPKey and APPSecret, when they differ from the workflow
// family's (the default is to use the same).
func WithPDSCredentials(appKey, appSecret string) ClientOption {
	return func(s *settings) { s.pdsKey, s.pdsSecret, s.pdsOwnCreds = appKey, appSecret, true }
}

// WithCancelContactPath sets the workflow family's path for cancelling one number's remaining steps,
// relative to the base URL. The default, DefaultCancelContactPath, is a guess to be confirmed.
func WithCancelContactPath(path string) ClientOption {
	return func(s *settings) {
		if path != "" {
			s.cancelContactPath = "/" + strings.TrimLeft(path, "/")
		}
	}
}

// Client calls two families of Airudder's open API (see endpoints.go): the workflow family
// (CreateInstance, UploadDetails, CancelContact) and the PDS family (CancelTaskContacts). Safe for
// concurrent use.
//
// Each family has its own token, which the client caches and renews before it expires (when older than
// 23h) or when Airudder refuses it (HTTP 401, or a token-refused code in the envelope); after such a
// renewal it retries the request once. Concurrent callers share one token request, and a burst of
// refusals causes one renewal. So one call makes at most four exchanges, each bounded by the request
// timeout (WithRequestTimeout): a token request, the request, a renewal and the request again.
type Client struct {
	http              *http.Client
	requestTimeout    time.Duration
	traced            bool           // http's Transport reports through httptrace (see APIError)
	loc               *time.Location // the account's zone, nil when not set
	cancelContactPath string
	workflow, pds     *family
}

// family is one of Airudder's API families: where it lives, whose credentials it takes, how its
// envelope reads, and its own token.
type family struct {
	pds               bool
	base              string
	baseErr           error // why base is unusable, nil when it is fine
	appKey, appSecret string
	authOp, authPath  string
	successCode       int
	dataField         string
	tokens            *tokenSource
}

// NewClient builds a client for the open API at baseURL ("" means DefaultBaseURL; a trailing slash is
// tolerated) with the given credentials. A nil httpClient means a default one; each exchange is bounded
// by the request timeout (DefaultRequestTimeout, or WithRequestTimeout) whatever the client's own.
//
// NewClient does not fail: an unusable baseURL makes every call return a non-retryable *APIError, and
// missing credentials make every call return ErrNotConfigured (see Configured).
func NewClient(baseURL, appKey, appSecret string, httpClient *http.Client, opts ...ClientOption) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	baseURL = strings.TrimRight(baseURL, "/")
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	set := settings{now: time.Now, requestTimeout: DefaultRequestTimeout, cancelContactPath: DefaultCancelContactPath, pdsBase: DefaultPDSBasePath}
	for _, opt := range opts {
		opt(&set)
	}
	if !set.pdsOwnCreds {
		set.pdsKey, set.pdsSecret = appKey, appSecret
	}
	c := &Client{
		http:              httpClient,
		requestTimeout:    set.requestTimeout,
		traced:            tracedTransport(httpClient.Transport),
		loc:               set.loc,
		cancelContactPath: set.cancelContactPath,
	}
	c.workflow = &family{
		base: baseURL, baseErr: checkBaseURL(baseURL),
		appKey: appKey, appSecret: appSecret,
		authOp: "auth", authPath: WorkflowAuthPath,
		successCode: workflowSuccessCode, dataField: workflowDataField,
	}
	pdsBase, pdsErr := baseURL+"/"+strings.Trim(set.pdsBase, "/"), c.workflow.baseErr
	if strings.HasPrefix(set.pdsBase, "http://") || strings.HasPrefix(set.pdsBase, "https://") {
		pdsBase = strings.TrimRight(set.pdsBase, "/")
		pdsErr = checkBaseURL(pdsBase)
	}
	c.pds = &family{
		pds:  true,
		base: pdsBase, baseErr: pdsErr,
		appKey: set.pdsKey, appSecret: set.pdsSecret,
		authOp: "pds-auth", authPath: PDSAuthPath,
		successCode: pdsSuccessCode, dataField: pdsDataField,
	}
	for _, f := range []*family{c.workflow, c.pds} {
		f.tokens = newTokenSource(f.authOp, func(ctx context.Context) (string, error) { return c.fetchToken(ctx, f) }, set.now)
	}
	return c
}

// checkBaseURL refuses a base that can never work, so that the mistake surfaces as a configuration error
// rather than as a "network error" that callers would retry forever.
func checkBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("base URL %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("base URL %q: scheme must be http or https", base)
	}
	if u.Host == "" {
		return fmt.Errorf("base URL %q has no host", base)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("base URL %q must not carry a query or fragment", base)
	}
	return nil
}

// Configured reports whether the workflow family's credentials are set.
func (c *Client) Configured() bool { return c.workflow.configured() }

// PDSConfigured reports whether the PDS family's credentials are set (by default the same as the
// workflow family's).
func (c *Client) PDSConfigured() bool { return c.pds.configured() }

func (f *family) configured() bool { return f.appKey != "" && f.appSecret != "" }

// UploadDetails adds callees to the running Airudder workflow workflowID. Its path is not confirmed (see
// UploadDetailsPath).
func (c *Client) UploadDetails(ctx context.Context, workflowID string, details []Detail) (*Response, error) {
	const op = "uploaddetails"
	if strings.TrimSpace(workflowID) == "" {
		return nil, invalid(op, "no workflow_id")
	}
	return c.call(ctx, c.workflow, op, UploadDetailsPath, uploadDetailsBody{workflowID, nonNil(details)})
}

// CreateInstanceRequest is a new workflow task to start from a template. TemplateID, Name and EndTime
// are required. It names no callees: add them to the new task with UploadDetails.
type CreateInstanceRequest struct {
	TemplateID int64
	Name       string
	// EndTime is when the task stops calling. It is sent in the account's zone: Location, or the
	// client's WithLocation when Location is nil.
	EndTime  time.Time
	Location *time.Location
	// TemplateName and WorkflowName are optional, sent only when set.
	TemplateName string
	WorkflowName string
	// AutoFinish is sent only when not zero (AutoFinishYes, AutoFinishNo); Airudder's default is 2.
	AutoFinish int
}

// CreateInstanceResult is a created workflow task.
type CreateInstanceResult struct {
	// WorkflowID names the new task, to keep on the follow-up. It is "" when the answer names none: the
	// task was still created (the answer said success), so the call must not be repeated.
	WorkflowID string
	Code       int
	Message    string
	Data       json.RawMessage // the answer's data, as received
}

// CreateInstance starts a new workflow task from a template, without callees (UploadDetails adds them).
// Airudder refuses a name that is taken: IsDuplicateName tells that refusal.
func (c *Client) CreateInstance(ctx context.Context, req CreateInstanceRequest) (*CreateInstanceResult, error) {
	const op = "createinstance"
	body := createInstanceBody{
		WorkflowTemplateID:   req.TemplateID,
		Name:                 req.Name,
		WorkflowTemplateName: req.TemplateName,
		WorkflowName:         req.WorkflowName,
	}
	switch {
	case req.TemplateID <= 0:
		return nil, invalid(op, "workflow_template_id must be a positive integer, not %d", req.TemplateID)
	case strings.TrimSpace(req.Name) == "":
		return nil, invalid(op, "no name")
	}
	var err error
	if body.EndTime, err = c.formatTime(op, "end_time", req.EndTime, req.Location); err != nil {
		return nil, err
	}
	if req.AutoFinish != 0 {
		body.AutoFinish = &req.AutoFinish
	}
	resp, err := c.call(ctx, c.workflow, op, CreateInstancePath, body)
	if err != nil {
		return nil, err
	}
	return &CreateInstanceResult{WorkflowID: lenientID(resp.Data, createInstanceIDField), Code: resp.Code, Message: resp.Message, Data: resp.Data}, nil
}

// IsDuplicateName says whether err is Airudder refusing a task's name as taken (see
// duplicateNameCodes): nothing was created, and the same request under another name may succeed.
func IsDuplicateName(err error) bool {
	var apiErr *APIError
	// Only a refusal in Airudder's envelope, which says nothing was done.
	if !errors.As(err, &apiErr) || apiErr.Code == 0 || apiErr.Retryable || apiErr.OutcomeUnknown {
		return false
	}
	if slices.Contains(duplicateNameCodes, apiErr.Code) {
		return true
	}
	msg := strings.ToLower(apiErr.Message)
	saysTaken := slices.ContainsFunc(duplicateNameWords, func(w string) bool { return strings.Contains(msg, w) })
	return saysTaken && (strings.Contains(msg, "name") || strings.Contains(msg, "名"))
}

// formatTime writes t as Airudder reads times: TimeLayout in the account's zone. It is the one place
// where times are formatted for Airudder.
func (c *Client) formatTime(op, field string, t time.Time, loc *time.Location) (string, error) {
	if t.IsZero() {
		return "", invalid(op, "no %s", field)
	}
	if loc == nil {
		loc = c.loc
	}
	if loc == nil {
		return "", invalid(op, "no time zone to write %s in: set the account's zone (WithLocation) or the request's Location", field)
	}
	return t.In(loc).Format(TimeLayout), nil
}

// lenientID reads data[field] as a string or a number (kept as written, so a large integer stays exact);
// "" when data is no object or the field is missing or of another kind.
func lenientID(data json.RawMessage, field string) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return ""
	}
	raw := fields[field]
	switch kindOf(raw) {
	case "string":
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	case "number":
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// nonNil makes a nil slice encode as [] rather than null, which Airudder's list field does not expect.
func nonNil(details []Detail) []Detail {
	if details == nil {
		return []Detail{}
	}
	return details
}

// call sends one authenticated JSON request to one of f's paths, renewing the token and retrying once
// when Airudder refuses it.
func (c *Client) call(ctx context.Context, f *family, op, path string, body any) (*Response, error) {
	if !f.configured() {
		return nil, &APIError{Op: op, Message: ErrNotConfigured.Error(), Err: ErrNotConfigured}
	}
	if f.baseErr != nil {
		return nil, &APIError{Op: op, Message: f.baseErr.Error(), Err: f.baseErr}
	}
	payload, err := encode(body)
	if err != nil {
		return nil, &APIError{Op: op, Message: "encode request: " + err.Error(), Err: err}
	}
	if err := ctx.Err(); err != nil {
		// Said here, under the call's own name, rather than as a failure to get a token.
		return nil, &APIError{Op: op, Message: err.Error(), Retryable: true, Err: err}
	}
	token, err := f.tokens.get(ctx, "")
	if err != nil {
		return nil, err
	}
	resp, apiErr, unauthorized := c.post(ctx, f, op, f.base+path, contentTypeJSON, token, payload)
	if !unauthorized {
		return resp, nilIfNone(apiErr)
	}
	// The token expired early or was revoked: renew it (unless a concurrent call already did) and try
	// once more. The refused request had no effect. A second refusal means the credentials themselves
	// are refused.
	if token, err = f.tokens.get(ctx, token); err != nil {
		return nil, err
	}
	resp, apiErr, unauthorized = c.post(ctx, f, op, f.base+path, contentTypeJSON, token, payload)
	if unauthorized {
		apiErr.Message = "refused even with a renewed token, check the APPKey and APPSecret: " + apiErr.Message
	}
	return resp, nilIfNone(apiErr)
}

// fetchToken asks Airudder for one of f's tokens: JSON credentials for the workflow family, a form for
// the PDS family (both seen). Its errors never have OutcomeUnknown set: a token request changes nothing
// that a caller's call would, and the call itself was not sent.
func (c *Client) fetchToken(ctx context.Context, f *family) (string, error) {
	creds := credentials{f.appKey, f.appSecret}
	contentType, payload := contentTypeJSON, []byte(nil)
	if f.pds {
		contentType = contentTypeForm
		payload = []byte(url.Values{"APPKey": {creds.APPKey}, "APPSecret": {creds.APPSecret}}.Encode())
	} else {
		var err error
		if payload, err = encode(creds); err != nil {
			return "", &APIError{Op: f.authOp, Message: "encode request: " + err.Error(), Err: err}
		}
	}
	resp, apiErr, unauthorized := c.post(ctx, f, f.authOp, f.base+f.authPath, contentType, "", payload)
	if unauthorized {
		// Renewing cannot help the token request itself: Airudder refuses the APPKey or APPSecret.
		apiErr.Message = "credentials refused, check the APPKey and APPSecret: " + apiErr.Message
	}
	if apiErr != nil {
		apiErr.OutcomeUnknown = false
		return "", apiErr
	}
	var data tokenData
	if len(resp.Data) > 0 {
		if err := json.Unmarshal(resp.Data, &data); err != nil {
			return "", &APIError{Op: f.authOp, HTTPStatus: http.StatusOK, Code: resp.Code, Message: "answer's " + f.dataField + " is not {\"token\": string}: " + err.Error(), Err: err}
		}
	}
	if data.Token == "" {
		return "", &APIError{Op: f.authOp, HTTPStatus: http.StatusOK, Code: resp.Code, Message: "answer carries no token"}
	}
	return data.Token, nil
}

// nilIfNone turns a nil *APIError into a nil error, not an error interface holding a nil pointer.
func nilIfNone(e *APIError) error {
	if e == nil {
		return nil
	}
	return e
}

func encode(body any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Names and variables go to Airudder as written; "&" need not become "\u0026".
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
