package airudder_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
)

// wantOutcome asserts how a failed call is classified.
func wantOutcome(t *testing.T, err error, op string, retryable, unknown bool) *airudder.APIError {
	t.Helper()
	ae := apiError(t, err)
	if ae.Op != op || ae.Retryable != retryable || ae.OutcomeUnknown != unknown {
		t.Errorf("err %+v\nwant Op %s, Retryable %t, OutcomeUnknown %t", ae, op, retryable, unknown)
	}
	return ae
}

// warm makes c fetch its workflow token, so that the next call's failure is the call's own.
func warm(t *testing.T, c *airudder.Client) {
	t.Helper()
	if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
		t.Fatal(err)
	}
}

// Failures before the request was sent certainly had no effect.
func TestNotSentHasNoEffect(t *testing.T) {
	t.Run("connection refused at the token request", func(t *testing.T) {
		s := airuddertest.New(t)
		c := s.Client()
		s.Close()
		_, err := c.UploadDetails(context.Background(), "wf", someDetails)
		if ae := wantOutcome(t, err, "auth", true, false); ae.HTTPStatus != 0 || ae.Err == nil {
			t.Errorf("err %+v, want no HTTP status and a cause", ae)
		}
	})
	t.Run("connection refused at the call", func(t *testing.T) {
		s := airuddertest.New(t)
		hc := s.HTTPClient()
		c := airudder.NewClient(s.URL, testKey, testSecret, hc)
		warm(t, c)
		s.Close()
		// A pooled connection the server has closed would make this a write to a dead connection, whose
		// outcome is honestly unknown; a fresh dial to the closed port is what this case is about.
		hc.CloseIdleConnections()
		_, err := c.UploadDetails(context.Background(), "wf", someDetails)
		ae := wantOutcome(t, err, "uploaddetails", true, false)
		var opErr *net.OpError
		if !errors.As(err, &opErr) || opErr.Op != "dial" {
			t.Errorf("err %v, want a dial error underneath", ae)
		}
	})
	t.Run("DNS failure", func(t *testing.T) {
		s := airuddertest.New(t)
		var dials atomic.Int32
		var d net.Dialer
		hc := &http.Client{Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials.Add(1) > 2 { // the token request and the warm-up dial; every later one fails
					return nil, &net.DNSError{Err: "no such host", Name: "api.airudder.com", IsNotFound: true}
				}
				return d.DialContext(ctx, network, addr)
			},
		}}
		c := airudder.NewClient(s.URL, testKey, testSecret, hc)
		warm(t, c)
		_, err := c.UploadDetails(context.Background(), "wf", someDetails)
		wantOutcome(t, err, "uploaddetails", true, false)
	})
	t.Run("connect timeout", func(t *testing.T) {
		// A timeout while dialing says nothing of dialing in its error; only httptrace tells that no
		// connection was ever made.
		s := airuddertest.New(t)
		var dials atomic.Int32
		var d net.Dialer
		stuck := make(chan struct{})
		t.Cleanup(func() { close(stuck) })
		hc := &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials.Add(1) > 2 {
					<-stuck // a SYN nobody answers
					return nil, errors.New("gave up")
				}
				return d.DialContext(ctx, network, addr)
			},
		}}
		c := airudder.NewClient(s.URL, testKey, testSecret, hc)
		warm(t, c)
		_, err := c.UploadDetails(context.Background(), "wf", someDetails)
		wantOutcome(t, err, "uploaddetails", true, false)
	})
	t.Run("TLS handshake failure", func(t *testing.T) {
		s := airuddertest.New(t, airuddertest.WithTLS())
		hc := s.HTTPClient()
		c := airudder.NewClient(s.URL, testKey, testSecret, hc)
		warm(t, c)
		// From now on the server's certificate is not trusted, and each request needs a new connection.
		tr := hc.Transport.(*http.Transport)
		tr.TLSClientConfig.RootCAs = x509.NewCertPool()
		tr.CloseIdleConnections()
		_, err := c.UploadDetails(context.Background(), "wf", someDetails)
		wantOutcome(t, err, "uploaddetails", true, false)
		if n := s.Count(airudder.UploadDetailsPath); n != 1 {
			t.Errorf("%d uploads reached the server, want only the first", n)
		}
	})
	t.Run("context ended before the token", func(t *testing.T) {
		s := airuddertest.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Client().UploadDetails(ctx, "wf", someDetails)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want one that wraps context.Canceled", err)
		}
		wantOutcome(t, err, "uploaddetails", true, false)
		if n := len(s.Requests()); n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
	t.Run("context ended before the call", func(t *testing.T) {
		s := airuddertest.New(t)
		c := s.Client()
		warm(t, c)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.UploadDetails(ctx, "wf", someDetails)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want one that wraps context.Canceled", err)
		}
		wantOutcome(t, err, "uploaddetails", true, false)
		if n := s.Count(airudder.UploadDetailsPath); n != 1 {
			t.Errorf("%d uploads, want only the warm-up", n)
		}
	})
}

// Failures after the request was sent leave the outcome unknown: Airudder may have carried it out.
func TestSentWithoutAnswerIsOutcomeUnknown(t *testing.T) {
	t.Run("client timeout while Airudder works", func(t *testing.T) {
		s := airuddertest.New(t)
		// Airudder creates the instance, then never answers.
		s.Inject(airudder.CreateInstancePath, airuddertest.Always(airuddertest.Fault{Effect: true, Hang: true}))
		hc := s.HTTPClient()
		hc.Timeout = 200 * time.Millisecond
		c := airudder.NewClient(s.URL, testKey, testSecret, hc, airudder.WithLocation(time.UTC))
		_, err := c.CreateInstance(context.Background(), someInstance())
		if ae := wantOutcome(t, err, "createinstance", true, true); ae.HTTPStatus != 0 {
			t.Errorf("err %+v, want no HTTP status", ae)
		}
		// This is why it matters: the call failed, and yet the instance exists.
		if n := len(s.Instances()); n != 1 {
			t.Errorf("%d instances, want 1", n)
		}
	})
	t.Run("context deadline while Airudder works", func(t *testing.T) {
		s := airuddertest.New(t)
		s.Inject(airudder.UploadDetailsPath, airuddertest.Always(airuddertest.Fault{Hang: true}))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := s.Client().UploadDetails(ctx, "wf", someDetails)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want one that wraps context.DeadlineExceeded", err)
		}
		wantOutcome(t, err, "uploaddetails", true, true)
	})
	t.Run("connection cut after the request was read", func(t *testing.T) {
		s := airuddertest.New(t)
		s.Inject(airudder.UploadDetailsPath, airuddertest.Always(airuddertest.Fault{Cut: true}))
		_, err := s.Client().UploadDetails(context.Background(), "wf", someDetails)
		if ae := wantOutcome(t, err, "uploaddetails", true, true); ae.HTTPStatus != 0 {
			t.Errorf("err %+v, want no HTTP status", ae)
		}
		// The client does not repeat the request on its own: that is the caller's decision.
		if n := s.Count(airudder.UploadDetailsPath); n != 1 {
			t.Errorf("%d uploads, want 1", n)
		}
	})
	t.Run("answer cut off at HTTP 200", func(t *testing.T) {
		s := airuddertest.New(t)
		s.Inject(airudder.CreateInstancePath, airuddertest.Always(airuddertest.Fault{Effect: true, Truncate: true}))
		_, err := s.Client().CreateInstance(context.Background(), someInstance())
		if ae := wantOutcome(t, err, "createinstance", true, true); ae.HTTPStatus != 200 || !strings.Contains(ae.Message, "read answer") {
			t.Errorf("err %+v, want HTTP 200 and a read error", ae)
		}
		if n := len(s.Instances()); n != 1 {
			t.Errorf("%d instances, want 1", n)
		}
	})
	t.Run("answer cut off at HTTP 503", func(t *testing.T) {
		s := airuddertest.New(t)
		s.Inject(airudder.UploadDetailsPath, airuddertest.Always(airuddertest.Fault{Truncate: true, Status: 503, Body: `{"code":503,"message":"busy"}`}))
		_, err := s.Client().UploadDetails(context.Background(), "wf", someDetails)
		wantOutcome(t, err, "uploaddetails", true, true)
	})
	t.Run("answer cut off at HTTP 400 is still a refusal", func(t *testing.T) {
		s := airuddertest.New(t)
		s.Inject(airudder.UploadDetailsPath, airuddertest.Always(airuddertest.Fault{Truncate: true, Status: 400, Body: `{"code":400,"message":"bad"}`}))
		_, err := s.Client().UploadDetails(context.Background(), "wf", someDetails)
		wantOutcome(t, err, "uploaddetails", false, false)
	})
	for _, status := range []int{500, 502, 503} {
		t.Run("HTTP "+http.StatusText(status), func(t *testing.T) {
			s := airuddertest.New(t)
			s.Inject(airudder.CreateInstancePath, airuddertest.Always(airuddertest.Fault{Effect: true, Status: status, Body: "upstream error"}))
			_, err := s.Client().CreateInstance(context.Background(), someInstance())
			if ae := wantOutcome(t, err, "createinstance", true, true); ae.HTTPStatus != status {
				t.Errorf("err %+v, want HTTP %d", ae, status)
			}
		})
	}
	t.Run("code 500 in the envelope", func(t *testing.T) {
		s := airuddertest.New(t)
		s.Inject(airudder.CreateInstancePath, airuddertest.Always(airuddertest.Answer(200, `{"code":500,"message":"internal error"}`)))
		_, err := s.Client().CreateInstance(context.Background(), someInstance())
		if ae := wantOutcome(t, err, "createinstance", true, true); ae.Code != 500 {
			t.Errorf("err %+v, want code 500", ae)
		}
	})
}

// With a RoundTripper that does not report through httptrace, only errors that can only happen before
// sending count as "not sent".
func TestUntracedTransport(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		unknown bool
	}{
		{"DNS error", &net.DNSError{Err: "no such host", Name: "api.airudder.com", IsNotFound: true}, false},
		{"dial error", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false},
		{"read error", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, true},
		{"anything else", io.ErrUnexpectedEOF, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Path == airudder.WorkflowAuthPath {
					body := `{"code":200,"message":"success","data":{"token":"t"}}`
					return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
				}
				return nil, tc.err
			})}
			_, err := airudder.NewClient("https://api.airudder.com", testKey, testSecret, hc).UploadDetails(context.Background(), "wf", someDetails)
			wantOutcome(t, err, "uploaddetails", true, tc.unknown)
		})
	}
}
