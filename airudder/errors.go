package airudder

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrNotConfigured means the client has no APPKey or APPSecret for the family it was asked to call.
// Calls return it wrapped in a non-retryable *APIError whose Op is the call's own ("uploaddetails",
// "createinstance", …): no request is sent, and waiting will not make credentials appear. Test it with
// errors.Is.
var ErrNotConfigured = errors.New("airudder open API is not configured: APPKey and APPSecret are required")

// ErrInvalidRequest means a request lacks what Airudder requires (createinstance without an end time, a
// cancel without a number, …). Calls return it wrapped in a non-retryable *APIError, without sending
// anything. Test it with errors.Is.
var ErrInvalidRequest = errors.New("invalid request")

// Response is Airudder's answer envelope. Data is the workflow family's "data" or the PDS family's
// "body", as received.
type Response struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// APIError is a failed call. It answers the two questions a caller must ask before acting again:
//
//   - Retryable: may trying again later succeed?
//   - OutcomeUnknown: may Airudder have carried the request out although we saw no success? When false,
//     the request certainly had no effect: it was never sent, or Airudder refused it. When true, it may
//     have been carried out: a new call may already be ringing, so repeating it blindly may call a person
//     twice. The caller decides (cancelling twice is harmless; creating an instance twice is not).
//
// Classification (HTTP status first, since a proxy may have answered; then Airudder's envelope code):
//
//	what happened                                             Retryable  OutcomeUnknown
//	no credentials, unusable base URL, invalid request        no         no   (nothing sent)
//	token request failed (Op "auth" or "pds-auth")            by these   no   (the call was not sent)
//	                                                           same rules
//	context ended before the request was sent                 yes        no
//	no connection: DNS failure, connection refused, dial      yes        no
//	  timeout, TLS handshake failure, proxy refusal
//	connection made but the request not written in full      yes        no
//	request written, then timeout, reset or closed            yes        yes
//	  connection before an answer (or context ended)
//	answer cut off while reading it, at HTTP 2xx or 5xx       yes        yes
//	HTTP 5xx, whatever the body says                          yes        yes
//	HTTP 408 or 429 (429: Throttled)                          yes        no
//	HTTP 401, or a token-refused code: renew once, retry;     no         no
//	  refused again
//	any other HTTP status outside 2xx (3xx, 4xx)              no         no
//	HTTP 2xx, envelope code 500-599 (or PDS 10201)            yes        yes
//	HTTP 2xx, envelope code 408, 429 or 10705 (429, 10705:    yes        no
//	  Throttled)
//	HTTP 2xx, any other code but success (10508, 10510, …)    no         no
//	HTTP 2xx, body not an envelope with an integer code       no         yes  (we cannot tell)
//
// "Sent" is decided from what net/http reports through httptrace, not from error messages: with Go's own
// Transport, a request that never got a connection, or whose writing failed before its end, was not
// carried out (a server does not act on half a request); once the whole request was written, any failure
// leaves the outcome unknown. With a RoundTripper that does not report through httptrace, only errors
// that can only happen before sending (DNS errors, *net.OpError with Op "dial", TLS certificate and
// record errors) count as not sent; anything else is unknown.
type APIError struct {
	Op         string // "auth", "uploaddetails", "createinstance", "cancelcontact", "pds-auth", "canceltaskcontacts", "querytasklist", …
	HTTPStatus int    // 0 when no HTTP answer arrived
	Code       int    // Airudder's code, 0 when the body had none (a PDS success code is 0 too)
	Message    string
	Retryable  bool
	// OutcomeUnknown says the request may have been carried out although the call failed; see above.
	OutcomeUnknown bool
	// Throttled says Airudder (or a gateway) limited our rate: HTTP 429, envelope code 429, or 10705
	// "the number of queries exceeds the number limit". It is Retryable, and a caller should wait longer
	// than after a passing failure before trying again (see docs/design.md: Reconciliation: backfill what never arrived).
	Throttled bool
	// Err is the underlying cause when there is one (a network error, a context error, ErrNotConfigured,
	// ErrInvalidRequest), so that errors.Is sees through the APIError.
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
	if e.Throttled {
		b.WriteString(" [throttled]")
	}
	if e.OutcomeUnknown {
		b.WriteString(" [outcome unknown]")
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// invalid is the error of a request refused before sending.
func invalid(op, format string, args ...any) *APIError {
	msg := fmt.Sprintf(format, args...)
	return &APIError{Op: op, Message: msg, Err: fmt.Errorf("%w: %s", ErrInvalidRequest, msg)}
}

// verdict is what an envelope code means to the client.
type verdict int

const (
	codeSuccess      verdict = iota
	codeTokenRefused         // renew the token and try once more
	codeBusy                 // retryable, and Airudder did nothing (a timeout before work)
	codeThrottled            // retryable, and Airudder did nothing: a rate limit, to be waited out longer
	codeServerFailed         // retryable, and Airudder may have done the work before failing
	codeRejected             // the request itself is wrong: not retryable, and nothing was done
)

// statusVerdict says what an HTTP status outside 2xx means. "Server-side" is 500 to 599 only.
func statusVerdict(status int) verdict {
	switch {
	case status == http.StatusUnauthorized:
		return codeTokenRefused
	case status == http.StatusTooManyRequests:
		return codeThrottled
	case status == http.StatusRequestTimeout:
		return codeBusy
	case status >= 500 && status <= 599:
		return codeServerFailed
	}
	return codeRejected
}

// apply sets Retryable and OutcomeUnknown as the verdict says.
func (v verdict) apply(e *APIError) {
	e.Retryable = v == codeBusy || v == codeThrottled || v == codeServerFailed
	e.OutcomeUnknown = v == codeServerFailed
	e.Throttled = v == codeThrottled
}

// classify turns an HTTP status and body into the family's envelope or an *APIError, as documented on
// APIError. unauthorized reports a refused token (HTTP 401 or a token-refused code), for which the
// returned *APIError is neither retryable nor of unknown outcome: whether a renewal may help is the
// caller's decision.
func (f *family) classify(op string, status int, body []byte) (resp *Response, apiErr *APIError, unauthorized bool) {
	env, hasCode := f.envelope(body)
	apiErr = &APIError{Op: op, HTTPStatus: status}
	if hasCode {
		apiErr.Code = env.Code
		apiErr.Message = env.Message
	}
	if apiErr.Message == "" {
		apiErr.Message = describe(status, body, hasCode)
	}

	if status == http.StatusUnauthorized || (hasCode && f.judge(env.Code) == codeTokenRefused) {
		return nil, apiErr, true
	}
	if status < 200 || status > 299 {
		// The HTTP status decides, whatever the body says: a proxy or load balancer may have answered.
		statusVerdict(status).apply(apiErr)
		return nil, apiErr, false
	}
	if !hasCode {
		// Not Airudder's envelope at a 2xx: the same request would get the same answer, and whether
		// Airudder acted on it cannot be read from it.
		apiErr.OutcomeUnknown = true
		return nil, apiErr, false
	}
	if v := f.judge(env.Code); v != codeSuccess {
		v.apply(apiErr)
		return nil, apiErr, false
	}
	return &env, nil, false
}

// judge says what one of the family's envelope codes means.
func (f *family) judge(code int) verdict {
	switch {
	case code == f.successCode:
		return codeSuccess
	case code == http.StatusUnauthorized:
		return codeTokenRefused
	case code == http.StatusTooManyRequests || code == pdsCodeTooManyQueries:
		// 10705 is seen in the PDS family's table; the workflow family is taken to share it (inferred):
		// either way it asks for less, not for a changed request.
		return codeThrottled
	case code == http.StatusRequestTimeout:
		return codeBusy
	case code >= 500 && code <= 599:
		// Airudder's own codes (10001 and the like) are above this range and name problems with the
		// request.
		return codeServerFailed
	}
	if f.pds {
		switch code {
		case pdsCodeInvalidToken, pdsCodeExpiredToken:
			return codeTokenRefused
		case pdsCodeInternalError:
			return codeServerFailed
		}
	}
	return codeRejected
}

// envelope reads the family's {"code", "message", data} leniently: hasCode is false when the body is not
// a JSON object with an integer code. A message that is not a string is ignored rather than failing the
// whole answer, so that the code still classifies it; a missing message falls back to "status", where
// the PDS family puts its error text.
func (f *family) envelope(body []byte) (env Response, hasCode bool) {
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
	if env.Message == "" && env.Code != f.successCode {
		_ = json.Unmarshal(fields["status"], &env.Message)
	}
	if data, ok := fields[f.dataField]; ok && kindOf(data) != "null" {
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
