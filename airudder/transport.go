package airudder

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// sendTrace records what net/http reports, through httptrace, about one request's way to Airudder, so
// that a failure can be told apart as "certainly never carried out" or "may have been".
type sendTrace struct {
	lookedForConn atomic.Bool // the Transport began to look for a connection
	gotConn       atomic.Bool // it had one: bytes may have left from here on
	wroteAll      atomic.Bool // a whole request was written (into the connection's buffer, at least)
	writeFailed   atomic.Bool // writing a request broke off before its end
}

func (s *sendTrace) hooks() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { s.lookedForConn.Store(true) },
		GotConn: func(httptrace.GotConnInfo) { s.gotConn.Store(true) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				s.wroteAll.Store(true)
			} else {
				s.writeFailed.Store(true)
			}
		},
	}
}

// notSent says whether a request whose round trip failed with err certainly never reached Airudder whole,
// so that it cannot have been carried out. It errs towards "maybe sent": a wrong "not sent" could make a
// caller repeat a call that is already ringing.
func (s *sendTrace) notSent(traced bool, err error) bool {
	if s.wroteAll.Load() {
		// Once any attempt wrote the whole request, Airudder may have acted on it, whatever came next.
		return false
	}
	if traced {
		switch {
		case !s.lookedForConn.Load():
			// The Transport gave up before looking for a connection (the context had ended).
			return true
		case !s.gotConn.Load():
			// No connection: DNS, dial and TLS handshake failures all end here.
			return true
		case s.writeFailed.Load():
			// Half a request: a server reads the whole body before it acts, and this one never came.
			// (Go's Transport retries a request on a fresh connection only when it wrote nothing, and
			// wroteAll above catches a retry that got further.)
			return true
		}
	}
	return failsBeforeSending(err)
}

// failsBeforeSending recognises the errors that can only happen before a request leaves: it is the whole
// test when the RoundTripper does not report through httptrace.
func failsBeforeSending(err error) bool {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	return errors.As(err, &dnsErr) ||
		(errors.As(err, &opErr) && opErr.Op == "dial") ||
		errors.As(err, &certErr) ||
		errors.As(err, &recordErr)
}

// tracedTransport says whether rt is Go's own Transport, which reports through httptrace; only then does
// the absence of a report mean that a step did not happen.
func tracedTransport(rt http.RoundTripper) bool {
	if rt == nil {
		rt = http.DefaultTransport
	}
	_, ok := rt.(*http.Transport)
	return ok
}

// post sends payload to url and reads the family's envelope. It returns the envelope on success, or an
// *APIError classified as documented on APIError. unauthorized reports a refused token, for which the
// returned *APIError is neither retryable nor of unknown outcome: whether a renewal may help is the
// caller's decision.
func (c *Client) post(ctx context.Context, f *family, op, url, contentType, token string, payload []byte) (resp *Response, apiErr *APIError, unauthorized bool) {
	resp, apiErr, unauthorized = c.exchange(ctx, f, op, url, contentType, token, payload)
	if apiErr == nil || !errors.Is(apiErr.Err, context.Canceled) { // our own stop is not Airudder's error
		apiRequestsTotal.WithLabelValues(op, requestOutcome(apiErr, unauthorized)).Inc()
	}
	return resp, apiErr, unauthorized
}

// apiRequestsTotal counts the requests to Airudder's API by what came of them, so that an operator sees
// re-calls and cancels failing on Airudder's side (or on our credentials) before follow-ups pile up.
var apiRequestsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "rudderhook_airudder_api_requests_total",
	Help: "Requests to Airudder's API by operation (auth, createinstance, uploaddetails, cancelcontact, pds-auth, canceltaskcontacts) " +
		"and outcome: ok; no_answer (no HTTP answer: connection, timeout); unauthorized (token or credentials refused); " +
		"throttled (429, or code 429 or 10705: too many queries); retryable (a 5xx, 408 or Airudder's busy codes); outcome_unknown (a 2xx that is not Airudder's answer); refused (any other refusal).",
}, []string{"op", "outcome"})

// requestOutcome is the outcome label of one request.
func requestOutcome(apiErr *APIError, unauthorized bool) string {
	switch {
	case apiErr == nil:
		return "ok"
	case unauthorized:
		return "unauthorized"
	case apiErr.HTTPStatus == 0:
		return "no_answer"
	case apiErr.Throttled:
		return "throttled"
	case apiErr.Retryable:
		return "retryable"
	case apiErr.OutcomeUnknown:
		return "outcome_unknown"
	default:
		return "refused"
	}
}

// exchange is one request of post: see there.
func (c *Client) exchange(ctx context.Context, f *family, op, url, contentType, token string, payload []byte) (resp *Response, apiErr *APIError, unauthorized bool) {
	if err := ctx.Err(); err != nil {
		return nil, &APIError{Op: op, Message: err.Error(), Retryable: true, Err: err}, false
	}
	// Each exchange has its own bound (a renewal after a refused token is a new exchange, with its own).
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	var trace sendTrace
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace.hooks()), http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, &APIError{Op: op, Message: "build request: " + err.Error(), Err: err}, false
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set(authHeader, tokenScheme+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		// No answer: a refused connection, a reset, a timeout, or the caller's context ending. Any of
		// these may go away; the caller's own context decides whether it still wants to try.
		return nil, &APIError{Op: op, Message: err.Error(), Retryable: true, OutcomeUnknown: !trace.notSent(c.traced, err), Err: err}, false
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes+1))
	if err != nil {
		// The answer broke off midway. Its status still tells a refusal (4xx) from a failure on
		// Airudder's side (5xx); at 2xx it may have been a success we could not read.
		_, apiErr, unauthorized := f.classify(op, res.StatusCode, nil)
		apiErr.Message = "read answer: " + err.Error()
		apiErr.Err = err
		if res.StatusCode >= 200 && res.StatusCode <= 299 {
			apiErr.Retryable, apiErr.OutcomeUnknown = true, true
		}
		return nil, apiErr, unauthorized
	}
	return f.classify(op, res.StatusCode, body)
}
