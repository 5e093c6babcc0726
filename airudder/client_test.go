package airudder_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

const (
	testKey    = "app-key"
	testSecret = "app-secret"
)

// request is one request the fake received, as Airudder would see it.
type request struct {
	Path          string
	Authorization string
	Body          map[string]any
}

// fakeAirudder stands in for Airudder's open API. It checks every request the way Airudder would (method,
// path, Content-Type, credentials, token), issues tokens "tok-1", "tok-2", ... and accepts only the latest.
type fakeAirudder struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []request
	issued   int
	valid    string // the token the API paths accept; "" until one is issued or after expire
	// unauthorizedByCode makes a refused token get HTTP 200 with code 401 instead of a bare HTTP 401.
	unauthorizedByCode bool
	// authDelay slows the token request down, widening the window for concurrent callers.
	authDelay time.Duration
	// authAnswer, when set, answers the token request instead of issuing a token.
	authAnswer func() (status int, body string)
	// answer, when set, answers an API request that carries a valid token; n counts such requests from 1.
	answer   func(n int) (status int, body string)
	answered int
}

func newFake(t *testing.T) *fakeAirudder {
	t.Helper()
	f := &fakeAirudder{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAirudder) client(opts ...airudder.ClientOption) *airudder.Client {
	return airudder.NewClient(f.srv.URL, testKey, testSecret, f.srv.Client(), append([]airudder.ClientOption{airudder.WithLocation(time.UTC)}, opts...)...)
}

// someInstance is a valid createinstance request.
func someInstance() airudder.CreateInstanceRequest {
	return airudder.CreateInstanceRequest{TemplateID: 7, Name: "Collections & reminders", EndTime: time.Date(2025, 3, 1, 14, 30, 0, 0, time.UTC), Details: someDetails}
}

// expire revokes the current token on Airudder's side, as an early expiry would.
func (f *fakeAirudder) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.valid = ""
}

func (f *fakeAirudder) recorded() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

func (f *fakeAirudder) count(path string) int {
	n := 0
	for _, r := range f.recorded() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeAirudder) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(format string, args ...any) {
		f.t.Errorf("fake Airudder: "+format, args...)
		writeJSON(w, http.StatusBadRequest, `{"code":400,"message":"the fake refused the request"}`)
	}
	if r.Method != http.MethodPost {
		fail("%s %s, want POST", r.Method, r.URL.Path)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		fail("Content-Type %q, want application/json", r.Header.Get("Content-Type"))
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		fail("read body: %v", err)
		return
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		fail("body %q is not a JSON object: %v", raw, err)
		return
	}

	f.mu.Lock()
	f.requests = append(f.requests, request{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: body})
	f.mu.Unlock()

	switch r.URL.Path {
	case "/service/cloud/auth":
		f.serveAuth(w, r, body, fail)
	case "/service/cloud/workflow/uploaddetails", "/service/cloud/workflow/createinstance":
		f.serveAPI(w, r)
	default:
		fail("unknown path %q", r.URL.Path)
	}
}

func (f *fakeAirudder) serveAuth(w http.ResponseWriter, r *http.Request, body map[string]any, fail func(string, ...any)) {
	if got := r.Header.Get("Authorization"); got != "" {
		fail("token request carries Authorization %q", got)
		return
	}
	if want := map[string]any{"APPKey": testKey, "APPSecret": testSecret}; !reflect.DeepEqual(body, want) {
		fail("token request body %v, want %v", body, want)
		return
	}
	if f.authDelay > 0 {
		time.Sleep(f.authDelay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.authAnswer != nil {
		status, answer := f.authAnswer()
		writeJSON(w, status, answer)
		return
	}
	f.issued++
	f.valid = fmt.Sprintf("tok-%d", f.issued)
	writeJSON(w, http.StatusOK, `{"code":200,"message":"success","data":{"token":"`+f.valid+`"}}`)
}

func (f *fakeAirudder) serveAPI(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.valid == "" || r.Header.Get("Authorization") != "Token "+f.valid {
		f.mu.Unlock()
		if f.unauthorizedByCode {
			writeJSON(w, http.StatusOK, `{"code":401,"message":"token invalid"}`)
		} else {
			// A gateway in front of Airudder may refuse the token before Airudder sees it: no envelope.
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
		}
		return
	}
	f.answered++
	n, answer := f.answered, f.answer
	f.mu.Unlock()
	if answer != nil {
		status, body := answer(n)
		writeJSON(w, status, body)
		return
	}
	writeJSON(w, http.StatusOK, `{"code":200,"message":"success","data":{"accepted":1}}`)
}

var someDetails = []airudder.Detail{
	{Callee: "+6281234567890", Variables: map[string]string{"name": "Budi", "amount": "1.500.000"}},
	{Callee: "+6289876543210"},
}

// someDetailsJSON is someDetails as Airudder must receive it: no "variables" where there are none.
var someDetailsJSON = []any{
	map[string]any{"callee": "+6281234567890", "variables": map[string]any{"name": "Budi", "amount": "1.500.000"}},
	map[string]any{"callee": "+6289876543210"},
}

// apiError asserts that err is an *APIError, also when wrapped.
func apiError(t *testing.T, err error) *airudder.APIError {
	t.Helper()
	var ae *airudder.APIError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &ae) {
		t.Fatalf("err = %v (%T), want *airudder.APIError", err, err)
	}
	return ae
}

func TestUploadDetailsReusesToken(t *testing.T) {
	f := newFake(t)
	c := f.client()
	for i := range 3 {
		resp, err := c.UploadDetails(context.Background(), fmt.Sprintf("wf-%d", i), someDetails)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if resp.Code != 200 || resp.Message != "success" || string(resp.Data) != `{"accepted":1}` {
			t.Errorf("call %d: response %+v (data %s)", i, resp, resp.Data)
		}
	}
	reqs := f.recorded()
	if len(reqs) != 4 || reqs[0].Path != "/service/cloud/auth" {
		t.Fatalf("requests %+v, want one token request then three uploads", reqs)
	}
	for i, r := range reqs[1:] {
		want := map[string]any{"workflow_id": fmt.Sprintf("wf-%d", i), "details": someDetailsJSON}
		if r.Path != "/service/cloud/workflow/uploaddetails" || r.Authorization != "Token tok-1" || !reflect.DeepEqual(r.Body, want) {
			t.Errorf("upload %d: %+v, want path uploaddetails, Token tok-1, body %v", i, r, want)
		}
	}
}

func TestUploadDetailsSendsEmptyListNotNull(t *testing.T) {
	f := newFake(t)
	if _, err := f.client().UploadDetails(context.Background(), "wf", nil); err != nil {
		t.Fatal(err)
	}
	reqs := f.recorded()
	if got, want := reqs[len(reqs)-1].Body, map[string]any{"workflow_id": "wf", "details": []any{}}; !reflect.DeepEqual(got, want) {
		t.Errorf("body %v, want %v", got, want)
	}
}

func TestCreateInstance(t *testing.T) {
	f := newFake(t)
	f.answer = func(int) (int, string) {
		return http.StatusOK, `{"code":200,"message":"created","data":{"workflow_id":"wf-new"}}`
	}
	res, err := f.client().CreateInstance(context.Background(), someInstance())
	if err != nil {
		t.Fatal(err)
	}
	if res.Message != "created" || res.WorkflowID != "wf-new" {
		t.Errorf("result %+v (data %s)", res, res.Data)
	}
	reqs := f.recorded()
	if len(reqs) != 2 {
		t.Fatalf("requests %+v, want a token request and one createinstance", reqs)
	}
	want := map[string]any{"workflow_template_id": float64(7), "name": "Collections & reminders", "end_time": "2025-03-01 14:30:00", "details": someDetailsJSON}
	if r := reqs[1]; r.Path != "/service/cloud/workflow/createinstance" || r.Authorization != "Token tok-1" || !reflect.DeepEqual(r.Body, want) {
		t.Errorf("request %+v, want createinstance with Token tok-1 and body %v", r, want)
	}
}

func TestTokenRenewedAfter23Hours(t *testing.T) {
	f := newFake(t)
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	c := f.client(airudder.WithClock(func() time.Time { return now }))
	upload := func() {
		t.Helper()
		if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
			t.Fatalf("at %s: %v", now, err)
		}
	}
	upload()
	now = now.Add(22*time.Hour + 59*time.Minute)
	upload()
	if n := f.count("/service/cloud/auth"); n != 1 {
		t.Fatalf("token requests after 22h59m = %d, want 1", n)
	}
	now = now.Add(2 * time.Minute) // 23h01m after the token was issued
	upload()
	reqs := f.recorded()
	if n := f.count("/service/cloud/auth"); n != 2 {
		t.Fatalf("token requests after 23h01m = %d, want 2", n)
	}
	if last := reqs[len(reqs)-1]; last.Authorization != "Token tok-2" {
		t.Errorf("last upload sent %q, want Token tok-2", last.Authorization)
	}
	// The renewed token is dated from its renewal, not from the first one.
	now = now.Add(22 * time.Hour)
	upload()
	if n := f.count("/service/cloud/auth"); n != 2 {
		t.Errorf("token requests 22h after the renewal = %d, want 2", n)
	}
}

func TestTokenRenewedOnUnauthorized(t *testing.T) {
	for _, byCode := range []bool{false, true} {
		name := "HTTP 401"
		if byCode {
			name = "code 401 at HTTP 200"
		}
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.unauthorizedByCode = byCode
			c := f.client()
			if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
				t.Fatal(err)
			}
			f.expire()
			resp, err := c.UploadDetails(context.Background(), "wf", someDetails)
			if err != nil {
				t.Fatalf("after expiry: %v", err)
			}
			if resp.Code != 200 {
				t.Errorf("response %+v", resp)
			}
			var got []string
			for _, r := range f.recorded() {
				got = append(got, r.Path[strings.LastIndex(r.Path, "/")+1:]+" "+r.Authorization)
			}
			want := []string{"auth ", "uploaddetails Token tok-1", "uploaddetails Token tok-1", "auth ", "uploaddetails Token tok-2"}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("requests\n %q\nwant\n %q", got, want)
			}
		})
	}
}

func TestPersistentUnauthorizedIsNotRetryable(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		code    int
		message string
	}{
		{"bare HTTP 401", 401, "Unauthorized", 0, "Unauthorized"},
		{"HTTP 401 with envelope", 401, `{"code":401,"message":"no access to this workflow"}`, 401, "no access to this workflow"},
		{"code 401 at HTTP 200", 200, `{"code":401,"message":"no access to this workflow"}`, 401, "no access to this workflow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			// Airudder issues tokens but refuses every one of them.
			f.answer = func(int) (int, string) { return tc.status, tc.body }
			_, err := f.client().UploadDetails(context.Background(), "wf", someDetails)
			ae := apiError(t, err)
			if ae.Retryable || ae.Op != "uploaddetails" || ae.HTTPStatus != tc.status || ae.Code != tc.code {
				t.Errorf("err %+v, want a non-retryable uploaddetails error with HTTP %d and code %d", ae, tc.status, tc.code)
			}
			if !strings.Contains(ae.Message, tc.message) {
				t.Errorf("Message %q, want it to hold %q", ae.Message, tc.message)
			}
			if auths, uploads := f.count("/service/cloud/auth"), f.count("/service/cloud/workflow/uploaddetails"); auths != 2 || uploads != 2 {
				t.Errorf("%d token requests and %d uploads, want exactly one renewal and one retry (2 and 2)", auths, uploads)
			}
		})
	}
}

func TestFailureClassification(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		retryable bool
		code      int
		message   string // a substring the error's Message must hold
	}{
		{"HTTP 503", 503, `<html>Service Unavailable</html>`, true, 0, "Service Unavailable"},
		{"HTTP 502 with envelope", 502, `{"code":502,"message":"upstream down"}`, true, 502, "upstream down"},
		{"HTTP 500 with code 200", 500, `{"code":200,"message":"success"}`, true, 200, "success"},
		{"HTTP 429", 429, `{"code":429,"message":"slow down"}`, true, 429, "slow down"},
		{"HTTP 408", 408, ``, true, 0, "Request Timeout"},
		{"HTTP 400", 400, `{"code":400,"message":"details must not be empty"}`, false, 400, "details must not be empty"},
		{"HTTP 404 page", 404, `404 page not found`, false, 0, "404 page not found"},
		{"HTTP 403 with code 500", 403, `{"code":500,"message":"forbidden"}`, false, 500, "forbidden"},
		{"code 500 at HTTP 200", 200, `{"code":500,"message":"internal error"}`, true, 500, "internal error"},
		{"code 503 at HTTP 200", 200, `{"code":503,"message":"busy"}`, true, 503, "busy"},
		{"code 429 at HTTP 200", 200, `{"code":429,"message":"too many"}`, true, 429, "too many"},
		{"code 408 at HTTP 200", 200, `{"code":408,"message":"timeout"}`, true, 408, "timeout"},
		{"code 10001 at HTTP 200", 200, `{"code":10001,"message":"workflow not found"}`, false, 10001, "workflow not found"},
		{"code 50001 at HTTP 200", 200, `{"code":50001,"message":"template disabled"}`, false, 50001, "template disabled"},
		{"code 400 at HTTP 200", 200, `{"code":400,"message":"bad callee"}`, false, 400, "bad callee"},
		{"not JSON at HTTP 200", 200, `OK`, false, 0, `"OK"`},
		{"no code at HTTP 200", 200, `{"message":"success"}`, false, 0, "not Airudder's JSON envelope"},
		{"null code at HTTP 200", 200, `{"code":null,"message":"success"}`, false, 0, "not Airudder's JSON envelope"},
		{"code as string at HTTP 200", 200, `{"code":"200","message":"success"}`, false, 0, "not Airudder's JSON envelope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.answer = func(int) (int, string) { return tc.status, tc.body }
			resp, err := f.client().UploadDetails(context.Background(), "wf", someDetails)
			if resp != nil {
				t.Errorf("response %+v alongside an error", resp)
			}
			ae := apiError(t, err)
			if ae.Op != "uploaddetails" || ae.HTTPStatus != tc.status || ae.Code != tc.code || ae.Retryable != tc.retryable {
				t.Errorf("err %+v, want Op uploaddetails, HTTPStatus %d, Code %d, Retryable %t", ae, tc.status, tc.code, tc.retryable)
			}
			if !strings.Contains(ae.Message, tc.message) {
				t.Errorf("Message %q, want it to hold %q", ae.Message, tc.message)
			}
			if n := f.count("/service/cloud/workflow/uploaddetails"); n != 1 {
				t.Errorf("%d uploads, want 1: only a 401 is retried by the client", n)
			}
		})
	}
}

func TestErrorStringNamesOpStatusAndCode(t *testing.T) {
	f := newFake(t)
	f.answer = func(int) (int, string) { return 200, `{"code":10001,"message":"workflow not found"}` }
	_, err := f.client().UploadDetails(context.Background(), "wf", someDetails)
	if got, want := err.Error(), "airudder uploaddetails (HTTP 200, code 10001): workflow not found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAuthFailures(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		retryable bool
		code      int
		message   string
	}{
		{"wrong credentials, code", 200, `{"code":10002,"message":"APPKey or APPSecret error"}`, false, 10002, "APPKey or APPSecret error"},
		{"wrong credentials, HTTP 401", 401, `{"code":401,"message":"unauthorized"}`, false, 401, "unauthorized"},
		{"wrong credentials, code 401", 200, `{"code":401,"message":"unauthorized"}`, false, 401, "unauthorized"},
		{"HTTP 503", 503, `upstream connect error`, true, 0, "upstream connect error"},
		{"code 500", 200, `{"code":500,"message":"auth backend down"}`, true, 500, "auth backend down"},
		{"no token", 200, `{"code":200,"message":"success","data":{}}`, false, 200, "no token"},
		{"token not a string", 200, `{"code":200,"message":"success","data":{"token":42}}`, false, 200, "token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.authAnswer = func() (int, string) { return tc.status, tc.body }
			_, err := f.client().CreateInstance(context.Background(), someInstance())
			ae := apiError(t, err)
			if ae.Op != "auth" || ae.HTTPStatus != tc.status || ae.Code != tc.code || ae.Retryable != tc.retryable {
				t.Errorf("err %+v, want Op auth, HTTPStatus %d, Code %d, Retryable %t", ae, tc.status, tc.code, tc.retryable)
			}
			if !strings.Contains(ae.Message, tc.message) {
				t.Errorf("Message %q, want it to hold %q", ae.Message, tc.message)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q reveals the APPSecret", err)
			}
			if auths, calls := f.count("/service/cloud/auth"), f.count("/service/cloud/workflow/createinstance"); auths != 1 || calls != 0 {
				t.Errorf("%d token requests and %d calls, want 1 and 0", auths, calls)
			}
		})
	}
}

func TestNetworkErrorsAreRetryable(t *testing.T) {
	t.Run("connection refused at auth", func(t *testing.T) {
		f := newFake(t)
		c := f.client()
		f.srv.Close()
		_, err := c.UploadDetails(context.Background(), "wf", someDetails)
		if ae := apiError(t, err); ae.Op != "auth" || ae.HTTPStatus != 0 || !ae.Retryable || ae.Err == nil {
			t.Errorf("err %+v, want a retryable auth error with no HTTP status and a cause", ae)
		}
	})
	t.Run("connection refused at the call", func(t *testing.T) {
		f := newFake(t)
		c := f.client()
		if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
			t.Fatal(err)
		}
		f.srv.Close()
		_, err := c.UploadDetails(context.Background(), "wf", someDetails)
		if ae := apiError(t, err); ae.Op != "uploaddetails" || ae.HTTPStatus != 0 || !ae.Retryable {
			t.Errorf("err %+v, want a retryable uploaddetails error with no HTTP status", ae)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f := newFake(t)
		release := make(chan struct{})
		f.answer = func(int) (int, string) {
			<-release
			return 200, `{"code":200,"message":"success"}`
		}
		// Unblock the handler before the server closes, or Close would wait for it.
		t.Cleanup(func() { close(release) })
		hc := f.srv.Client()
		hc.Timeout = 100 * time.Millisecond
		c := airudder.NewClient(f.srv.URL, testKey, testSecret, hc)
		_, err := c.UploadDetails(context.Background(), "wf", someDetails)
		if ae := apiError(t, err); ae.Op != "uploaddetails" || ae.HTTPStatus != 0 || !ae.Retryable {
			t.Errorf("err %+v, want a retryable uploaddetails error with no HTTP status", ae)
		}
	})
	t.Run("context ended", func(t *testing.T) {
		f := newFake(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := f.client().UploadDetails(ctx, "wf", someDetails)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want one that wraps context.Canceled", err)
		}
		if ae := apiError(t, err); !ae.Retryable {
			t.Errorf("err %+v, want retryable", ae)
		}
	})
}

func TestNotConfigured(t *testing.T) {
	f := newFake(t)
	for _, creds := range [][2]string{{"", ""}, {testKey, ""}, {"", testSecret}} {
		c := airudder.NewClient(f.srv.URL, creds[0], creds[1], nil, airudder.WithLocation(time.UTC))
		if c.Configured() {
			t.Errorf("Configured() with key %q and secret %q = true", creds[0], creds[1])
		}
		_, err := c.UploadDetails(context.Background(), "wf", someDetails)
		if !errors.Is(err, airudder.ErrNotConfigured) {
			t.Errorf("UploadDetails err = %v, want ErrNotConfigured", err)
		}
		_, err = c.CreateInstance(context.Background(), someInstance())
		if !errors.Is(err, airudder.ErrNotConfigured) {
			t.Errorf("CreateInstance err = %v, want ErrNotConfigured", err)
		}
		if ae := apiError(t, err); ae.Retryable || ae.Op != "createinstance" {
			t.Errorf("err %+v, want a non-retryable createinstance error", ae)
		}
	}
	if n := len(f.recorded()); n != 0 {
		t.Errorf("an unconfigured client sent %d requests", n)
	}
	if !f.client().Configured() {
		t.Error("Configured() with both credentials = false")
	}
}

func TestConcurrentCallsFetchTokenOnce(t *testing.T) {
	f := newFake(t)
	f.authDelay = 50 * time.Millisecond
	c := f.client()
	const callers = 20
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			_, err := c.UploadDetails(context.Background(), fmt.Sprintf("wf-%d", i), someDetails)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := f.count("/service/cloud/auth"); n != 1 {
		t.Errorf("%d token requests for %d concurrent calls, want 1", n, callers)
	}
	if n := f.count("/service/cloud/workflow/uploaddetails"); n != callers {
		t.Errorf("%d uploads, want %d", n, callers)
	}
}

func TestConcurrentUnauthorizedRenewsOnce(t *testing.T) {
	f := newFake(t)
	c := f.client()
	if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
		t.Fatal(err)
	}
	f.expire()
	f.authDelay = 50 * time.Millisecond
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Every caller refused with tok-1 must reuse the renewal another caller made, not renew again (which
	// would also revoke the tokens the others are retrying with).
	if n := f.count("/service/cloud/auth"); n != 2 {
		t.Errorf("%d token requests, want 2 (the first and one renewal)", n)
	}
}

func TestBaseURL(t *testing.T) {
	t.Run("trailing slash", func(t *testing.T) {
		f := newFake(t)
		c := airudder.NewClient(f.srv.URL+"/", testKey, testSecret, f.srv.Client())
		// The fake fails any path but the exact ones, so "//service/..." would not pass.
		if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("default", func(t *testing.T) {
		var urls []string
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			urls = append(urls, r.URL.String())
			body := `{"code":200,"message":"success","data":{"token":"t"}}`
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})}
		if _, err := airudder.NewClient("", testKey, testSecret, hc).UploadDetails(context.Background(), "wf", someDetails); err != nil {
			t.Fatal(err)
		}
		want := []string{airudder.DefaultBaseURL + "/service/cloud/auth", airudder.DefaultBaseURL + "/service/cloud/workflow/uploaddetails"}
		if airudder.DefaultBaseURL != "https://api.airudder.com" || !reflect.DeepEqual(urls, want) {
			t.Errorf("requested %q, want %q", urls, want)
		}
	})
	t.Run("unusable", func(t *testing.T) {
		for _, base := range []string{"api.airudder.com", "ftp://api.airudder.com", "https://", "https://api.airudder.com/?x=1"} {
			_, err := airudder.NewClient(base, testKey, testSecret, nil).UploadDetails(context.Background(), "wf", someDetails)
			if ae := apiError(t, err); ae.Retryable {
				t.Errorf("base %q: err %+v, want a non-retryable error", base, ae)
			}
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
