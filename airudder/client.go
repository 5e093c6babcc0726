package airudder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is where Airudder's open API lives when the configuration names no other base.
const DefaultBaseURL = "https://api.airudder.com"

// Paths of Airudder's open API, relative to the base URL.
const (
	authPath           = "/service/cloud/auth"
	uploadDetailsPath  = "/service/cloud/workflow/uploaddetails"
	createInstancePath = "/service/cloud/workflow/createinstance"
)

const (
	// tokenRenewAge is when a cached token is replaced. Airudder's tokens live 24 hours; renewing an hour
	// early leaves room for clock skew and for requests that are in flight when the token would expire.
	tokenRenewAge = 23 * time.Hour
	// defaultTimeout bounds one HTTP exchange when the caller gives no *http.Client of its own.
	defaultTimeout = 30 * time.Second
	// maxAnswerBytes bounds how much of an answer is read: Airudder's envelopes are small, and a runaway
	// body (a proxy's error page, a misrouted download) must not exhaust memory.
	maxAnswerBytes = 1 << 20
	// maxSnippet bounds how much of a body that is not Airudder's envelope goes into an error message.
	maxSnippet = 200
	// successCode is the envelope code of a successful call; any other code is a failure, whatever the
	// HTTP status.
	successCode = 200
)

// ErrNotConfigured means the client has no APPKey or APPSecret. Calls return it wrapped in a
// non-retryable *APIError whose Op is the call's own ("uploaddetails", "createinstance"): no request is
// sent, and waiting will not make credentials appear. Test it with errors.Is.
var ErrNotConfigured = errors.New("airudder open API is not configured: APPKey and APPSecret are required")

// Detail is one callee handed to an Airudder workflow.
type Detail struct {
	Callee    string            `json:"callee"`
	Variables map[string]string `json:"variables,omitempty"`
}

// Response is Airudder's answer envelope.
type Response struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// APIError is a failed call. Retryable says whether trying again later may succeed.
//
// Classification:
//   - no HTTP answer (network error, timeout, cancelled context): retryable;
//   - HTTP 408, 429 and 5xx: retryable;
//   - HTTP 401, or code 401 in the envelope: the client renews its token and retries once; a second 401
//     is not retryable, since the credentials themselves are refused;
//   - any other HTTP status outside 2xx: not retryable, the request itself is wrong;
//   - HTTP 2xx with a code other than 200: codes 408, 429 and 500-599 are retryable, any other is not
//     (Airudder's own five-digit codes, such as 10001, describe the request and are not retryable);
//   - a body that is not a JSON envelope with a code: retryable when the HTTP status was 5xx, else not.
//
// A failing token request is an *APIError with Op "auth", classified by the same rules, except that a 401
// from the token request is never retried: it means the APPKey or APPSecret is wrong.
type APIError struct {
	Op         string // "auth", "uploaddetails", "createinstance"
	HTTPStatus int    // 0 when no HTTP answer arrived
	Code       int    // Airudder's code, 0 when the body had none
	Message    string
	Retryable  bool
	// Err is the underlying cause when there is one (a network error, a context error, ErrNotConfigured),
	// so that errors.Is sees through the APIError.
	Err error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("airudder ")
	b.WriteString(e.Op)
	var status []string
	if e.HTTPStatus != 0 {
		status = append(status, fmt.Sprintf("HTTP %d", e.HTTPStatus))
	}
	if e.Code != 0 {
		status = append(status, fmt.Sprintf("code %d", e.Code))
	}
	if len(status) > 0 {
		b.WriteString(" (" + strings.Join(status, ", ") + ")")
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.Retryable {
		b.WriteString(" [retryable]")
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// ClientOption adjusts a Client built by NewClient.
type ClientOption func(*Client)

// WithClock replaces time.Now as the clock that dates tokens, so that tests can age a token past its
// renewal without waiting a day.
func WithClock(now func() time.Time) ClientOption {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// Client calls Airudder's open API. Safe for concurrent use. It caches the token and renews it before it
// expires (when older than 23h) or when Airudder answers 401 (HTTP status 401, or code 401 in the JSON);
// after such a renewal it retries the request once.
type Client struct {
	baseURL   string
	baseErr   error // why baseURL is unusable, nil when it is fine
	appKey    string
	appSecret string
	http      *http.Client
	now       func() time.Time

	// tokenLock is a mutex made of a one-slot channel, so that a caller waiting for another's token
	// request can give up when its context ends. It guards token and tokenAt, and holding it while the
	// token request is in flight is what keeps concurrent callers from each asking for a token.
	tokenLock chan struct{}
	token     string
	tokenAt   time.Time
}

// NewClient builds a client for the open API at baseURL ("" means DefaultBaseURL; a trailing slash is
// tolerated) with the given credentials. A nil httpClient means one with a 30-second timeout.
//
// NewClient does not fail: an unusable baseURL makes every call return a non-retryable *APIError, and
// missing credentials make every call return ErrNotConfigured (see Configured).
func NewClient(baseURL, appKey, appSecret string, httpClient *http.Client, opts ...ClientOption) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	baseURL = strings.TrimRight(baseURL, "/")
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultTimeout}
	}
	c := &Client{
		baseURL:   baseURL,
		baseErr:   checkBaseURL(baseURL),
		appKey:    appKey,
		appSecret: appSecret,
		http:      httpClient,
		now:       time.Now,
		tokenLock: make(chan struct{}, 1),
	}
	for _, opt := range opts {
		opt(c)
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

// Configured reports whether credentials are set.
func (c *Client) Configured() bool { return c.appKey != "" && c.appSecret != "" }

// UploadDetails adds callees to the running Airudder workflow workflowID.
func (c *Client) UploadDetails(ctx context.Context, workflowID string, details []Detail) (*Response, error) {
	return c.call(ctx, "uploaddetails", uploadDetailsPath, struct {
		WorkflowID string   `json:"workflow_id"`
		Details    []Detail `json:"details"`
	}{workflowID, nonNil(details)})
}

// CreateInstance starts a new instance, called name, of the Airudder workflow template templateID, with
// details as its callees.
func (c *Client) CreateInstance(ctx context.Context, templateID, name string, details []Detail) (*Response, error) {
	return c.call(ctx, "createinstance", createInstancePath, struct {
		WorkflowTemplateID string   `json:"workflow_template_id"`
		Name               string   `json:"name"`
		Details            []Detail `json:"details"`
	}{templateID, name, nonNil(details)})
}

// nonNil makes a nil slice encode as [] rather than null, which Airudder's list field does not expect.
func nonNil(details []Detail) []Detail {
	if details == nil {
		return []Detail{}
	}
	return details
}

// call sends one authenticated request, renewing the token and retrying once when Airudder refuses it.
func (c *Client) call(ctx context.Context, op, path string, body any) (*Response, error) {
	if !c.Configured() {
		return nil, &APIError{Op: op, Message: ErrNotConfigured.Error(), Err: ErrNotConfigured}
	}
	if c.baseErr != nil {
		return nil, &APIError{Op: op, Message: c.baseErr.Error(), Err: c.baseErr}
	}
	payload, err := encode(body)
	if err != nil {
		return nil, &APIError{Op: op, Message: "encode request: " + err.Error(), Err: err}
	}
	token, err := c.currentToken(ctx, "")
	if err != nil {
		return nil, err
	}
	resp, apiErr, unauthorized := c.post(ctx, op, path, token, payload)
	if !unauthorized {
		return resp, nilIfNone(apiErr)
	}
	// The token expired early or was revoked: renew it (unless a concurrent call already did) and try
	// once more. A second refusal means the credentials themselves are refused.
	if token, err = c.currentToken(ctx, token); err != nil {
		return nil, err
	}
	resp, apiErr, unauthorized = c.post(ctx, op, path, token, payload)
	if unauthorized {
		apiErr.Message = "refused even with a renewed token, check the APPKey and APPSecret: " + apiErr.Message
		apiErr.Retryable = false
	}
	return resp, nilIfNone(apiErr)
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

// currentToken returns a token that is younger than tokenRenewAge, asking Airudder for one when there is
// none. stale is a token Airudder has just refused: when it is still the cached one it is replaced, and
// when a concurrent call has already replaced it the replacement is returned, so that a burst of 401s
// causes one renewal, not one per call.
func (c *Client) currentToken(ctx context.Context, stale string) (string, error) {
	select {
	case c.tokenLock <- struct{}{}:
	case <-ctx.Done():
		return "", &APIError{Op: "auth", Message: "waiting for the token: " + ctx.Err().Error(), Retryable: true, Err: ctx.Err()}
	}
	defer func() { <-c.tokenLock }()

	if c.token != "" && c.token != stale {
		// A clock that went backwards makes the age negative; the token's real age is then unknown.
		if age := c.now().Sub(c.tokenAt); age >= 0 && age <= tokenRenewAge {
			return c.token, nil
		}
	}
	c.token = ""
	// Date the token from before the request, so that its age is never underestimated.
	requestedAt := c.now()
	token, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	c.token, c.tokenAt = token, requestedAt
	return token, nil
}

// fetchToken asks Airudder for a token. The caller holds tokenLock.
func (c *Client) fetchToken(ctx context.Context) (string, error) {
	payload, err := encode(struct {
		APPKey    string `json:"APPKey"`
		APPSecret string `json:"APPSecret"`
	}{c.appKey, c.appSecret})
	if err != nil {
		return "", &APIError{Op: "auth", Message: "encode request: " + err.Error(), Err: err}
	}
	resp, apiErr, unauthorized := c.post(ctx, "auth", authPath, "", payload)
	if unauthorized {
		// Renewing cannot help the token request itself: Airudder refuses the APPKey or APPSecret.
		apiErr.Message = "credentials refused, check the APPKey and APPSecret: " + apiErr.Message
		apiErr.Retryable = false
	}
	if apiErr != nil {
		return "", apiErr
	}
	var data struct {
		Token string `json:"token"`
	}
	if len(resp.Data) > 0 {
		if err := json.Unmarshal(resp.Data, &data); err != nil {
			return "", &APIError{Op: "auth", HTTPStatus: http.StatusOK, Code: resp.Code, Message: "answer's data is not {\"token\": string}: " + err.Error(), Err: err}
		}
	}
	if data.Token == "" {
		return "", &APIError{Op: "auth", HTTPStatus: http.StatusOK, Code: resp.Code, Message: "answer carries no token"}
	}
	return data.Token, nil
}

// post sends payload to path and reads Airudder's envelope. It returns the envelope on success, or an
// *APIError classified as documented on APIError. unauthorized reports a 401 (HTTP or code), for which
// the returned *APIError is not retryable: whether a renewal may help is the caller's decision.
func (c *Client) post(ctx context.Context, op, path, token string, payload []byte) (resp *Response, apiErr *APIError, unauthorized bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(payload))
	if err != nil {
		return nil, &APIError{Op: op, Message: "build request: " + err.Error(), Err: err}, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		// No answer: a refused connection, a reset, a timeout, or the caller's context ending. Any of
		// these may go away; the caller's own context decides whether it still wants to try.
		return nil, &APIError{Op: op, Message: err.Error(), Retryable: true, Err: err}, false
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes+1))
	if err != nil {
		// The answer broke off midway: as good as no answer.
		return nil, &APIError{Op: op, HTTPStatus: res.StatusCode, Message: "read answer: " + err.Error(), Retryable: true, Err: err}, false
	}
	return classify(op, res.StatusCode, body)
}

// classify turns an HTTP status and body into Airudder's envelope or an *APIError.
func classify(op string, status int, body []byte) (*Response, *APIError, bool) {
	env, hasCode := envelope(body)
	apiErr := &APIError{Op: op, HTTPStatus: status}
	if hasCode {
		apiErr.Code = env.Code
		apiErr.Message = env.Message
	}
	if apiErr.Message == "" {
		apiErr.Message = describe(status, body, hasCode)
	}

	if status == http.StatusUnauthorized || (hasCode && env.Code == http.StatusUnauthorized) {
		return nil, apiErr, true
	}
	if status < 200 || status > 299 {
		// The HTTP status decides, whatever the body says: a proxy or load balancer may have answered.
		apiErr.Retryable = retryableStatus(status)
		return nil, apiErr, false
	}
	switch {
	case !hasCode:
		// Not Airudder's envelope at a 2xx: the same request would get the same answer.
		return nil, apiErr, false
	case env.Code != successCode:
		apiErr.Retryable = retryableStatus(env.Code)
		return nil, apiErr, false
	}
	return &Response{Code: env.Code, Message: env.Message, Data: env.Data}, nil, false
}

// retryableStatus says whether an HTTP status, or an envelope code with the same meaning, is worth trying
// again later: timeouts, rate limits and server-side failures. "Server-side" is 500 to 599 only: Airudder's
// own codes (10001 and the like) are above that range and name problems with the request.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || (code >= 500 && code <= 599)
}

// envelope reads Airudder's {"code", "message", "data"} leniently: hasCode is false when the body is not
// a JSON object with an integer code. A message that is not a string is ignored rather than failing the
// whole answer, so that the code still classifies it.
func envelope(body []byte) (env Response, hasCode bool) {
	if len(body) > maxAnswerBytes {
		return env, false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return env, false
	}
	if code := fields["code"]; kindOf(code) != "number" || json.Unmarshal(code, &env.Code) != nil {
		return env, false
	}
	_ = json.Unmarshal(fields["message"], &env.Message)
	if data, ok := fields["data"]; ok && kindOf(data) != "null" {
		env.Data = data
	}
	return env, true
}

// describe words an answer that carries no message of its own, with the start of its body so that a
// proxy's error page or a changed API can be recognised from the logs.
func describe(status int, body []byte, hasCode bool) string {
	var msg string
	switch {
	case hasCode:
		msg = "answer has no message"
	case len(body) > maxAnswerBytes:
		msg = fmt.Sprintf("answer is larger than %d bytes", maxAnswerBytes)
	default:
		msg = "answer is not Airudder's JSON envelope"
	}
	if text := http.StatusText(status); text != "" && (status < 200 || status > 299) {
		msg = text + ", " + msg
	}
	snippet := strings.TrimSpace(string(body))
	if snippet == "" || hasCode {
		return msg
	}
	if len(snippet) > maxSnippet {
		snippet = strings.ToValidUTF8(snippet[:maxSnippet], "") + "…"
	}
	return fmt.Sprintf("%s: %q", msg, snippet)
}
