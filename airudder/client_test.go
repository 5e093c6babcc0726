package airudder_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
)

const (
	testKey    = airuddertest.AppKey
	testSecret = airuddertest.AppSecret
)

var someDetails = []airudder.Detail{
	{Callee: "+6281234567890", Variables: map[string]string{"name": "Budi", "amount": "1.500.000"}},
	{Callee: "+6289876543210"},
}

// someDetailsJSON is someDetails as Airudder must receive it: no "variables" where there are none.
var someDetailsJSON = []any{
	map[string]any{"callee": "+6281234567890", "variables": map[string]any{"name": "Budi", "amount": "1.500.000"}},
	map[string]any{"callee": "+6289876543210"},
}

// wib is the account's zone in these tests: Jakarta's UTC+7, without depending on tzdata.
var wib = time.FixedZone("WIB", 7*60*60)

// someInstance is a valid createinstance request.
func someInstance() airudder.CreateInstanceRequest {
	return airudder.CreateInstanceRequest{
		TemplateID: 7,
		Name:       "Collections & reminders",
		EndTime:    time.Date(2025, 3, 1, 14, 30, 0, 0, time.UTC),
		Location:   wib,
	}
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

// body decodes a recorded request's JSON body as encoding/json would by default (numbers as float64).
func body(t *testing.T, r airuddertest.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s: body %q: %v", r.Path, r.Body, err)
	}
	return m
}

// trail names each request by the last element of its path and its Authorization header.
func trail(reqs []airuddertest.Request) []string {
	var got []string
	for _, r := range reqs {
		got = append(got, r.Path[strings.LastIndex(r.Path, "/")+1:]+" "+r.Authorization)
	}
	return got
}

func TestUploadDetailsReusesToken(t *testing.T) {
	s := airuddertest.New(t)
	c := s.Client()
	for i := range 3 {
		resp, err := c.UploadDetails(context.Background(), fmt.Sprintf("wf-%d", i), someDetails)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if resp.Code != 200 || resp.Message != "success" || string(resp.Data) != `{"accepted":2}` {
			t.Errorf("call %d: response %+v (data %s)", i, resp, resp.Data)
		}
	}
	reqs := s.Requests()
	if len(reqs) != 4 || reqs[0].Path != airudder.WorkflowAuthPath {
		t.Fatalf("requests %+v, want one token request then three uploads", reqs)
	}
	for i, r := range reqs[1:] {
		want := map[string]any{"workflow_id": fmt.Sprintf("wf-%d", i), "details": someDetailsJSON}
		if got := body(t, r); r.Path != "/service/cloud/workflow/uploaddetails" || r.Authorization != "Token tok-1" || !reflect.DeepEqual(got, want) {
			t.Errorf("upload %d: %s %s %v, want path uploaddetails, Token tok-1, body %v", i, r.Path, r.Authorization, got, want)
		}
	}
	if n := len(s.Uploads()); n != 3 {
		t.Errorf("the fake carried out %d uploads, want 3", n)
	}
}

func TestUploadDetailsSendsEmptyListNotNull(t *testing.T) {
	s := airuddertest.New(t)
	if _, err := s.Client().UploadDetails(context.Background(), "wf", nil); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if got, want := body(t, reqs[len(reqs)-1]), map[string]any{"workflow_id": "wf", "details": []any{}}; !reflect.DeepEqual(got, want) {
		t.Errorf("body %v, want %v", got, want)
	}
}

func TestCreateInstanceSendsTheDocumentedShape(t *testing.T) {
	s := airuddertest.New(t)
	res, err := s.Client().CreateInstance(context.Background(), someInstance())
	if err != nil {
		t.Fatal(err)
	}
	if res.WorkflowID != "wf-1" || res.Code != 200 || res.Message != "success" {
		t.Errorf("result %+v", res)
	}
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests %+v, want a token request and one createinstance", reqs)
	}
	r := reqs[1]
	if r.Path != "/service/cloud/workflow/createinstance" || r.Authorization != "Token tok-1" {
		t.Errorf("request %s %s, want createinstance with Token tok-1", r.Path, r.Authorization)
	}
	// The template ID is a JSON integer, not a string, and the end time is written in the account's
	// zone: 14:30 UTC is 21:30 in Jakarta. Optional fields are left out, and so are callees, which the
	// vendor's createinstance does not take (uploaddetails adds them).
	if want := `{"workflow_template_id":7,"name":"Collections & reminders","end_time":"2025-03-01 21:30:00"}`; string(r.Body) != want {
		t.Errorf("body\n %s\nwant\n %s", r.Body, want)
	}
	want := []airuddertest.Instance{{WorkflowID: "wf-1", TemplateID: 7, Name: "Collections & reminders", EndTime: "2025-03-01 21:30:00"}}
	if got := s.Instances(); !reflect.DeepEqual(got, want) {
		t.Errorf("instances %+v, want %+v", got, want)
	}
}

func TestCreateInstanceOptionalFieldsAndZones(t *testing.T) {
	s := airuddertest.New(t)
	req := someInstance()
	req.TemplateID = 1 << 53 // beyond float64's exact integers: must reach Airudder exactly
	req.TemplateName, req.WorkflowName, req.AutoFinish = "PTP reminder", "reminder run", airudder.AutoFinishYes
	req.Location = nil // the client's zone
	if _, err := s.Client(airudder.WithLocation(wib)).CreateInstance(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	want := `{"workflow_template_id":9007199254740992,"name":"Collections & reminders","end_time":"2025-03-01 21:30:00",` +
		`"workflow_template_name":"PTP reminder","workflow_name":"reminder run","auto_finish":1}`
	if got := string(reqs[len(reqs)-1].Body); got != want {
		t.Errorf("body\n %s\nwant\n %s", got, want)
	}
	// A request's own zone wins over the client's.
	req.Location, req.Name = time.UTC, "another name"
	if _, err := s.Client(airudder.WithLocation(wib)).CreateInstance(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := s.Instances()[1].EndTime; got != "2025-03-01 14:30:00" {
		t.Errorf("end_time %q, want it in UTC", got)
	}
}

func TestCreateInstanceReadsWorkflowIDLeniently(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"string", `{"workflow_id":"wf-9"}`, "wf-9"},
		{"number", `{"workflow_id":12345678901234567890}`, "12345678901234567890"},
		{"missing", `{"id":"wf-9"}`, ""},
		{"data not an object", `"wf-9"`, ""},
		{"no data", `null`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := airuddertest.New(t)
			answer := `{"code":200,"message":"success","data":` + tc.data + `}`
			s.Inject(airudder.CreateInstancePath, airuddertest.Always(airuddertest.Fault{Effect: true, Status: 200, Body: answer}))
			// A success whose answer names no workflow is still a success: the instance exists, and an
			// error would invite a second one.
			res, err := s.Client().CreateInstance(context.Background(), someInstance())
			if err != nil {
				t.Fatal(err)
			}
			if res.WorkflowID != tc.want {
				t.Errorf("WorkflowID %q, want %q", res.WorkflowID, tc.want)
			}
		})
	}
}

func TestInvalidRequestsAreNotSent(t *testing.T) {
	noZone := someInstance()
	noZone.Location = nil
	cases := []struct {
		name string
		call func(*airudder.Client) error
	}{
		{"no template", func(c *airudder.Client) error {
			r := someInstance()
			r.TemplateID = 0
			_, err := c.CreateInstance(context.Background(), r)
			return err
		}},
		{"no name", func(c *airudder.Client) error {
			r := someInstance()
			r.Name = " "
			_, err := c.CreateInstance(context.Background(), r)
			return err
		}},
		{"no end time", func(c *airudder.Client) error {
			r := someInstance()
			r.EndTime = time.Time{}
			_, err := c.CreateInstance(context.Background(), r)
			return err
		}},
		{"no zone", func(c *airudder.Client) error {
			_, err := c.CreateInstance(context.Background(), noZone)
			return err
		}},
		{"upload without workflow", func(c *airudder.Client) error {
			_, err := c.UploadDetails(context.Background(), "", someDetails)
			return err
		}},
		{"cancel without callee", func(c *airudder.Client) error {
			_, err := c.CancelContact(context.Background(), airudder.CancelContactRequest{TaskID: "task-1"})
			return err
		}},
		{"PDS cancel without numbers", func(c *airudder.Client) error {
			_, err := c.CancelTaskContacts(context.Background(), airudder.CancelTaskContactsRequest{TaskID: "task-1"})
			return err
		}},
		{"PDS cancel without task", func(c *airudder.Client) error {
			_, err := c.CancelTaskContacts(context.Background(), airudder.CancelTaskContactsRequest{Numbers: []string{"+62812"}})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := airuddertest.New(t)
			// The fake's client names UTC as the account's zone; "no zone" needs a client without one.
			c := airudder.NewClient(s.URL, testKey, testSecret, s.HTTPClient())
			err := tc.call(c)
			if !errors.Is(err, airudder.ErrInvalidRequest) {
				t.Fatalf("err %v, want ErrInvalidRequest", err)
			}
			if ae := apiError(t, err); ae.Retryable || ae.OutcomeUnknown {
				t.Errorf("err %+v, want neither retryable nor of unknown outcome", ae)
			}
			if n := len(s.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestTokenRenewedAfter23Hours(t *testing.T) {
	s := airuddertest.New(t)
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	c := s.Client(airudder.WithClock(func() time.Time { return now }))
	upload := func() {
		t.Helper()
		if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
			t.Fatalf("at %s: %v", now, err)
		}
	}
	upload()
	now = now.Add(22*time.Hour + 59*time.Minute)
	upload()
	if n := s.Count(airudder.WorkflowAuthPath); n != 1 {
		t.Fatalf("token requests after 22h59m = %d, want 1", n)
	}
	now = now.Add(2 * time.Minute) // 23h01m after the token was issued
	upload()
	reqs := s.Requests()
	if n := s.Count(airudder.WorkflowAuthPath); n != 2 {
		t.Fatalf("token requests after 23h01m = %d, want 2", n)
	}
	if last := reqs[len(reqs)-1]; last.Authorization != "Token tok-2" {
		t.Errorf("last upload sent %q, want Token tok-2", last.Authorization)
	}
	// The renewed token is dated from its renewal, not from the first one.
	now = now.Add(22 * time.Hour)
	upload()
	if n := s.Count(airudder.WorkflowAuthPath); n != 2 {
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
			s := airuddertest.New(t)
			s.SetUnauthorizedByCode(byCode)
			c := s.Client()
			if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
				t.Fatal(err)
			}
			s.Expire()
			resp, err := c.UploadDetails(context.Background(), "wf", someDetails)
			if err != nil {
				t.Fatalf("after expiry: %v", err)
			}
			if resp.Code != 200 {
				t.Errorf("response %+v", resp)
			}
			want := []string{"auth ", "uploaddetails Token tok-1", "uploaddetails Token tok-1", "auth ", "uploaddetails Token tok-2"}
			if got := trail(s.Requests()); !reflect.DeepEqual(got, want) {
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
			s := airuddertest.New(t)
			// Airudder issues tokens but refuses every one of them.
			s.Inject(airudder.UploadDetailsPath, airuddertest.Always(airuddertest.Answer(tc.status, tc.body)))
			_, err := s.Client().UploadDetails(context.Background(), "wf", someDetails)
			ae := apiError(t, err)
			if ae.Retryable || ae.OutcomeUnknown || ae.Op != "uploaddetails" || ae.HTTPStatus != tc.status || ae.Code != tc.code {
				t.Errorf("err %+v, want a non-retryable uploaddetails error with HTTP %d and code %d, certainly without effect", ae, tc.status, tc.code)
			}
			if !strings.Contains(ae.Message, tc.message) {
				t.Errorf("Message %q, want it to hold %q", ae.Message, tc.message)
			}
			if auths, uploads := s.Count(airudder.WorkflowAuthPath), s.Count(airudder.UploadDetailsPath); auths != 2 || uploads != 2 {
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
		unknown   bool
		code      int
		message   string // a substring the error's Message must hold
	}{
		{"HTTP 500", 500, `{"code":500,"message":"internal error"}`, true, true, 500, "internal error"},
		{"HTTP 503", 503, `<html>Service Unavailable</html>`, true, true, 0, "Service Unavailable"},
		{"HTTP 502 with envelope", 502, `{"code":502,"message":"upstream down"}`, true, true, 502, "upstream down"},
		{"HTTP 500 with code 200", 500, `{"code":200,"message":"success"}`, true, true, 200, "success"},
		{"HTTP 429", 429, `{"code":429,"message":"slow down"}`, true, false, 429, "slow down"},
		{"HTTP 408", 408, ``, true, false, 0, "Request Timeout"},
		{"HTTP 400", 400, `{"code":400,"message":"details must not be empty"}`, false, false, 400, "details must not be empty"},
		{"HTTP 404 page", 404, `404 page not found`, false, false, 0, "404 page not found"},
		{"HTTP 403 with code 500", 403, `{"code":500,"message":"forbidden"}`, false, false, 500, "forbidden"},
		{"HTTP 302", 302, ``, false, false, 0, "Found"},
		{"code 500 at HTTP 200", 200, `{"code":500,"message":"internal error"}`, true, true, 500, "internal error"},
		{"code 503 at HTTP 200", 200, `{"code":503,"message":"busy"}`, true, true, 503, "busy"},
		{"code 429 at HTTP 200", 200, `{"code":429,"message":"too many"}`, true, false, 429, "too many"},
		{"code 408 at HTTP 200", 200, `{"code":408,"message":"timeout"}`, true, false, 408, "timeout"},
		{"code 10001 at HTTP 200", 200, `{"code":10001,"message":"workflow not found"}`, false, false, 10001, "workflow not found"},
		{"code 10508 at HTTP 200", 200, `{"code":10508,"status":"Task Name is duplicated"}`, false, false, 10508, "Task Name is duplicated"},
		{"code 50001 at HTTP 200", 200, `{"code":50001,"message":"template disabled"}`, false, false, 50001, "template disabled"},
		{"code 400 at HTTP 200", 200, `{"code":400,"message":"bad callee"}`, false, false, 400, "bad callee"},
		{"code 0 at HTTP 200", 200, `{"code":0,"message":"successfully"}`, false, false, 0, "successfully"},
		// An answer we cannot read may have been a success: the outcome is unknown.
		{"not JSON at HTTP 200", 200, `OK`, false, true, 0, `"OK"`},
		{"no code at HTTP 200", 200, `{"message":"success"}`, false, true, 0, "not Airudder's JSON envelope"},
		{"null code at HTTP 200", 200, `{"code":null,"message":"success"}`, false, true, 0, "not Airudder's JSON envelope"},
		{"code as string at HTTP 200", 200, `{"code":"200","message":"success"}`, false, true, 0, "not Airudder's JSON envelope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := airuddertest.New(t)
			s.Inject(airudder.UploadDetailsPath, airuddertest.Always(airuddertest.Answer(tc.status, tc.body)))
			resp, err := s.Client().UploadDetails(context.Background(), "wf", someDetails)
			if resp != nil {
				t.Errorf("response %+v alongside an error", resp)
			}
			ae := apiError(t, err)
			if ae.Op != "uploaddetails" || ae.HTTPStatus != tc.status || ae.Code != tc.code || ae.Retryable != tc.retryable || ae.OutcomeUnknown != tc.unknown {
				t.Errorf("err %+v, want Op uploaddetails, HTTPStatus %d, Code %d, Retryable %t, OutcomeUnknown %t", ae, tc.status, tc.code, tc.retryable, tc.unknown)
			}
			if !strings.Contains(ae.Message, tc.message) {
				t.Errorf("Message %q, want it to hold %q", ae.Message, tc.message)
			}
			if n := s.Count(airudder.UploadDetailsPath); n != 1 {
				t.Errorf("%d uploads, want 1: only a 401 is retried by the client", n)
			}
		})
	}
}

func TestErrorStringNamesOpStatusAndCode(t *testing.T) {
	s := airuddertest.New(t)
	s.Inject(airudder.UploadDetailsPath, airuddertest.Always(airuddertest.Answer(200, `{"code":10001,"message":"workflow not found"}`)))
	_, err := s.Client().UploadDetails(context.Background(), "wf", someDetails)
	if got, want := err.Error(), "airudder uploaddetails (HTTP 200, code 10001): workflow not found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	s.Inject(airudder.UploadDetailsPath, airuddertest.Always(airuddertest.Answer(502, `{"code":502,"message":"bad gateway"}`)))
	_, err = s.Client().UploadDetails(context.Background(), "wf", someDetails)
	if got, want := err.Error(), "airudder uploaddetails (HTTP 502, code 502): bad gateway [retryable] [outcome unknown]"; got != want {
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
			s := airuddertest.New(t)
			s.Inject(airudder.WorkflowAuthPath, airuddertest.Always(airuddertest.Answer(tc.status, tc.body)))
			_, err := s.Client().CreateInstance(context.Background(), someInstance())
			ae := apiError(t, err)
			// The call itself was never sent, whatever happened to the token request.
			if ae.Op != "auth" || ae.HTTPStatus != tc.status || ae.Code != tc.code || ae.Retryable != tc.retryable || ae.OutcomeUnknown {
				t.Errorf("err %+v, want Op auth, HTTPStatus %d, Code %d, Retryable %t, certainly without effect", ae, tc.status, tc.code, tc.retryable)
			}
			if !strings.Contains(ae.Message, tc.message) {
				t.Errorf("Message %q, want it to hold %q", ae.Message, tc.message)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q reveals the APPSecret", err)
			}
			if auths, calls := s.Count(airudder.WorkflowAuthPath), s.Count(airudder.CreateInstancePath); auths != 1 || calls != 0 {
				t.Errorf("%d token requests and %d calls, want 1 and 0", auths, calls)
			}
		})
	}
}

func TestWrongCredentialsAgainstTheFake(t *testing.T) {
	s := airuddertest.New(t)
	c := airudder.NewClient(s.URL, testKey, "wrong", s.HTTPClient(), airudder.WithLocation(time.UTC))
	_, err := c.UploadDetails(context.Background(), "wf", someDetails)
	if ae := apiError(t, err); ae.Op != "auth" || ae.Code != 401 || ae.Retryable || ae.OutcomeUnknown {
		t.Errorf("err %+v, want a non-retryable auth error with code 401", ae)
	}
}

func TestNotConfigured(t *testing.T) {
	s := airuddertest.New(t)
	for _, creds := range [][2]string{{"", ""}, {testKey, ""}, {"", testSecret}} {
		c := airudder.NewClient(s.URL, creds[0], creds[1], nil, airudder.WithLocation(time.UTC))
		if c.Configured() || c.PDSConfigured() {
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
		if ae := apiError(t, err); ae.Retryable || ae.OutcomeUnknown || ae.Op != "createinstance" {
			t.Errorf("err %+v, want a non-retryable createinstance error", ae)
		}
		_, err = c.CancelTaskContacts(context.Background(), airudder.CancelTaskContactsRequest{TaskID: "t", Numbers: []string{"+62812"}})
		if !errors.Is(err, airudder.ErrNotConfigured) {
			t.Errorf("CancelTaskContacts err = %v, want ErrNotConfigured", err)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("an unconfigured client sent %d requests", n)
	}
	if c := s.Client(); !c.Configured() || !c.PDSConfigured() {
		t.Error("Configured() with both credentials = false")
	}
}

func TestConcurrentCallsFetchTokenOnce(t *testing.T) {
	s := airuddertest.New(t)
	s.Inject(airudder.WorkflowAuthPath, airuddertest.Always(airuddertest.Fault{Delay: 50 * time.Millisecond}))
	c := s.Client()
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
	if n := s.Count(airudder.WorkflowAuthPath); n != 1 {
		t.Errorf("%d token requests for %d concurrent calls, want 1", n, callers)
	}
	if n := s.Count(airudder.UploadDetailsPath); n != callers {
		t.Errorf("%d uploads, want %d", n, callers)
	}
}

func TestConcurrentUnauthorizedRenewsOnce(t *testing.T) {
	s := airuddertest.New(t)
	c := s.Client()
	if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
		t.Fatal(err)
	}
	s.Expire()
	s.Inject(airudder.WorkflowAuthPath, airuddertest.Always(airuddertest.Fault{Delay: 50 * time.Millisecond}))
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
	if n := s.Count(airudder.WorkflowAuthPath); n != 2 {
		t.Errorf("%d token requests, want 2 (the first and one renewal)", n)
	}
}

func TestBaseURL(t *testing.T) {
	t.Run("trailing slash", func(t *testing.T) {
		s := airuddertest.New(t)
		c := airudder.NewClient(s.URL+"/", testKey, testSecret, s.HTTPClient())
		// The fake fails any path but the exact ones, so "//service/..." would not pass.
		if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CancelTaskContacts(context.Background(), airudder.CancelTaskContactsRequest{TaskID: "t", Numbers: []string{"+62812"}}); err != nil {
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
			c := airudder.NewClient(base, testKey, testSecret, nil)
			_, err := c.UploadDetails(context.Background(), "wf", someDetails)
			if ae := apiError(t, err); ae.Retryable || ae.OutcomeUnknown {
				t.Errorf("base %q: err %+v, want a non-retryable error without effect", base, ae)
			}
			_, err = c.CancelTaskContacts(context.Background(), airudder.CancelTaskContactsRequest{TaskID: "t", Numbers: []string{"+62812"}})
			if ae := apiError(t, err); ae.Retryable || ae.OutcomeUnknown {
				t.Errorf("base %q: PDS err %+v, want a non-retryable error without effect", base, ae)
			}
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Each exchange with Airudder has its own bound (WithRequestTimeout; 120 s by default): a token
// request and a call that each take most of it succeed together, and a call that takes longer is cut
// off, its outcome unknown, whatever the *http.Client says (it has no timeout here).
func TestRequestTimeoutBoundsEachExchange(t *testing.T) {
	if airudder.DefaultRequestTimeout != 120*time.Second {
		t.Errorf("DefaultRequestTimeout = %s, want the 120 s Airudder's integrators use", airudder.DefaultRequestTimeout)
	}
	s := airuddertest.New(t)
	s.Inject(airudder.WorkflowAuthPath, airuddertest.Always(airuddertest.Fault{Delay: 300 * time.Millisecond}))
	s.Inject(airudder.UploadDetailsPath, airuddertest.Once(airuddertest.Fault{Delay: 300 * time.Millisecond}))
	c := s.Client(airudder.WithRequestTimeout(500 * time.Millisecond))
	if _, err := c.UploadDetails(context.Background(), "wf", someDetails); err != nil {
		t.Fatalf("a token request and a call of 300 ms each, within 500 ms each: %v", err)
	}
	s.Inject(airudder.UploadDetailsPath, airuddertest.Always(airuddertest.Fault{Effect: true, Hang: true}))
	started := time.Now()
	_, err := c.UploadDetails(context.Background(), "wf", someDetails)
	if took := time.Since(started); took > 5*time.Second {
		t.Errorf("the hanging call took %s", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want one that wraps context.DeadlineExceeded", err)
	}
	wantOutcome(t, err, "uploaddetails", true, true)
}

// A refusal of a task's name as taken is told apart from other refusals: by PDS's code for it, or by a
// message that says so; never from an answer whose outcome is unknown.
func TestIsDuplicateName(t *testing.T) {
	cases := []struct {
		answer string
		want   bool
	}{
		{`{"code":10508,"message":"Duplicate task name"}`, true},
		{`{"code":10001,"message":"task name already exists"}`, true},
		{`{"code":400,"message":"名称重复"}`, true},
		{`{"code":10001,"message":"template does not exist"}`, false},
		{`{"code":400,"message":"duplicate request"}`, false},
		{`{"code":503,"message":"duplicate task name"}`, false}, // a failure on Airudder's side: unknown
	}
	for _, tc := range cases {
		s := airuddertest.New(t)
		s.Inject(airudder.CreateInstancePath, airuddertest.Always(airuddertest.Answer(http.StatusOK, tc.answer)))
		_, err := s.Client().CreateInstance(context.Background(), someInstance())
		if err == nil || airudder.IsDuplicateName(err) != tc.want {
			t.Errorf("%s: err %v, IsDuplicateName %t, want %t", tc.answer, err, airudder.IsDuplicateName(err), tc.want)
		}
	}
	if airudder.IsDuplicateName(errors.New("duplicate name")) {
		t.Error("an error that is not Airudder's answer")
	}
}
