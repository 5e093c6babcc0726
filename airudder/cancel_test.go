package airudder_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
)

var pdsCancel = airudder.CancelTaskContactsRequest{TaskID: "task-1", Numbers: []string{"+6281234567890", "+6289876543210"}}

func TestCancelTaskContacts(t *testing.T) {
	s := airuddertest.New(t)
	c := s.Client()
	res, err := c.CancelTaskContacts(context.Background(), pdsCancel)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Listed || !reflect.DeepEqual(res.Cancelled, pdsCancel.Numbers) || res.Code != 0 || res.Message != "successfully" {
		t.Errorf("result %+v, want both numbers listed as cancelled", res)
	}

	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests %+v, want a PDS token request and one cancel", reqs)
	}
	auth, cancel := reqs[0], reqs[1]
	// The PDS family's own token request: a form, at its own path, without a token.
	if auth.Path != "/service/callcenter/call/predict/auth" || auth.ContentType != "application/x-www-form-urlencoded" || auth.Authorization != "" ||
		auth.Form.Get("APPKey") != testKey || auth.Form.Get("APPSecret") != testSecret {
		t.Errorf("token request %s %q %q %v", auth.Path, auth.ContentType, auth.Authorization, auth.Form)
	}
	if cancel.Path != "/service/callcenter/call/predict/canceltaskcontacts" || cancel.Authorization != "Token pds-tok-1" {
		t.Errorf("cancel %s with %q, want canceltaskcontacts with Token pds-tok-1", cancel.Path, cancel.Authorization)
	}
	if want := `{"contactList":["+6281234567890","+6289876543210"],"TaskID":"task-1"}`; string(cancel.Body) != want {
		t.Errorf("body %s, want %s", cancel.Body, want)
	}

	// Cancelling again is harmless, and the answer says that nothing was pending any more.
	res, err = c.CancelTaskContacts(context.Background(), pdsCancel)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Listed || len(res.Cancelled) != 0 {
		t.Errorf("second cancel %+v, want an empty list", res)
	}
	if n := len(s.Cancellations()); n != 2 {
		t.Errorf("%d cancellations, want 2", n)
	}
}

func TestFamiliesHaveTheirOwnTokens(t *testing.T) {
	s := airuddertest.New(t)
	c := s.Client()
	warm(t, c)
	if _, err := c.CancelTaskContacts(context.Background(), pdsCancel); err != nil {
		t.Fatal(err)
	}
	if w, p := s.Count(airudder.WorkflowAuthPath), s.Count(s.PDSPath(airudder.PDSAuthPath)); w != 1 || p != 1 {
		t.Fatalf("%d workflow and %d PDS token requests, want one of each", w, p)
	}
	// A PDS token refused renews the PDS token only.
	s.Expire()
	if _, err := c.CancelTaskContacts(context.Background(), pdsCancel); err != nil {
		t.Fatal(err)
	}
	if w, p := s.Count(airudder.WorkflowAuthPath), s.Count(s.PDSPath(airudder.PDSAuthPath)); w != 1 || p != 2 {
		t.Errorf("%d workflow and %d PDS token requests, want 1 and 2", w, p)
	}
}

func TestPDSTokenRenewedOnUnauthorized(t *testing.T) {
	for _, byCode := range []bool{false, true} {
		name := "HTTP 401"
		if byCode {
			name = "code 10813 at HTTP 200"
		}
		t.Run(name, func(t *testing.T) {
			s := airuddertest.New(t)
			s.SetUnauthorizedByCode(byCode)
			c := s.Client()
			if _, err := c.CancelTaskContacts(context.Background(), pdsCancel); err != nil {
				t.Fatal(err)
			}
			s.Expire()
			if _, err := c.CancelTaskContacts(context.Background(), pdsCancel); err != nil {
				t.Fatalf("after expiry: %v", err)
			}
			want := []string{"auth ", "canceltaskcontacts Token pds-tok-1", "canceltaskcontacts Token pds-tok-1", "auth ", "canceltaskcontacts Token pds-tok-2"}
			if got := trail(s.Requests()); !reflect.DeepEqual(got, want) {
				t.Errorf("requests\n %q\nwant\n %q", got, want)
			}
		})
	}
}

func TestPDSFailureClassification(t *testing.T) {
	cases := []struct {
		name               string
		status             int
		body               string
		retryable, unknown bool
		code               int
	}{
		{"duplicate task name", 200, `{"code":10508,"message":"Task Name is duplicated"}`, false, false, 10508},
		{"task not found, message in status", 200, `{"code":10506,"status":"Task is not found"}`, false, false, 10506},
		{"too many queries", 200, `{"code":10705,"message":"The number of queries exceeds the number limit"}`, true, false, 10705},
		{"internal error", 200, `{"code":10201,"message":"Internal error"}`, true, true, 10201},
		{"code 500", 200, `{"code":500,"message":"Internal error"}`, true, true, 500},
		{"HTTP 429", 429, `rate limited`, true, false, 0},
		{"HTTP 502", 502, `bad gateway`, true, true, 0},
		{"code 200 is no PDS success", 200, `{"code":200,"message":"OK"}`, false, false, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := airuddertest.New(t)
			s.Inject(s.PDSPath(airudder.PDSCancelTaskContactsPath), airuddertest.Always(airuddertest.Answer(tc.status, tc.body)))
			_, err := s.Client().CancelTaskContacts(context.Background(), pdsCancel)
			if ae := wantOutcome(t, err, "canceltaskcontacts", tc.retryable, tc.unknown); ae.Code != tc.code || ae.Message == "" {
				t.Errorf("err %+v, want code %d and a message", ae, tc.code)
			}
		})
	}
	t.Run("number refused by the fake", func(t *testing.T) {
		s := airuddertest.New(t)
		_, err := s.Client().CancelTaskContacts(context.Background(), airudder.CancelTaskContactsRequest{TaskID: "task-1", Numbers: []string{"081234567890"}})
		if ae := wantOutcome(t, err, "canceltaskcontacts", false, false); ae.Code != 10510 {
			t.Errorf("err %+v, want code 10510", ae)
		}
	})
	t.Run("token refused twice", func(t *testing.T) {
		s := airuddertest.New(t)
		s.Inject(s.PDSPath(airudder.PDSCancelTaskContactsPath), airuddertest.Always(airuddertest.Answer(401, "Unauthorized")))
		_, err := s.Client().CancelTaskContacts(context.Background(), pdsCancel)
		wantOutcome(t, err, "canceltaskcontacts", false, false)
		if n := s.Count(s.PDSPath(airudder.PDSAuthPath)); n != 2 {
			t.Errorf("%d PDS token requests, want 2", n)
		}
	})
	t.Run("wrong PDS credentials", func(t *testing.T) {
		s := airuddertest.New(t)
		c := s.Client(airudder.WithPDSCredentials(testKey, "wrong"))
		_, err := c.CancelTaskContacts(context.Background(), pdsCancel)
		if ae := wantOutcome(t, err, "pds-auth", false, false); ae.Code != 10301 {
			t.Errorf("err %+v, want code 10301", ae)
		}
		// The workflow family keeps its own credentials.
		warm(t, c)
	})
	t.Run("answer lost after cancelling", func(t *testing.T) {
		s := airuddertest.New(t)
		s.Inject(s.PDSPath(airudder.PDSCancelTaskContactsPath), airuddertest.Once(airuddertest.Fault{Effect: true, Cut: true}))
		c := s.Client()
		_, err := c.CancelTaskContacts(context.Background(), pdsCancel)
		wantOutcome(t, err, "canceltaskcontacts", true, true)
		// The caller may try again: harmless, and the answer shows the first one did its work.
		res, err := c.CancelTaskContacts(context.Background(), pdsCancel)
		if err != nil || !res.Listed || len(res.Cancelled) != 0 {
			t.Errorf("retry: %+v, %v; want success listing nothing left to cancel", res, err)
		}
	})
}

func TestPDSBase(t *testing.T) {
	t.Run("path", func(t *testing.T) {
		s := airuddertest.New(t, airuddertest.WithPDSBase("/pds/v2/"))
		if _, err := s.Client().CancelTaskContacts(context.Background(), pdsCancel); err != nil {
			t.Fatal(err)
		}
		if n := s.Count("/pds/v2/canceltaskcontacts"); n != 1 {
			t.Errorf("%d cancels at /pds/v2, want 1", n)
		}
	})
	t.Run("URL of its own", func(t *testing.T) {
		s := airuddertest.New(t)
		// The workflow family's base is never used here.
		c := airudder.NewClient("https://api.airudder.invalid", testKey, testSecret, s.HTTPClient(), airudder.WithPDSBase(s.URL+airudder.DefaultPDSBasePath+"/"))
		if _, err := c.CancelTaskContacts(context.Background(), pdsCancel); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCancelContact(t *testing.T) {
	s := airuddertest.New(t)
	c := s.Client()
	req := airudder.CancelContactRequest{TaskID: "task-1", Callee: "+6281234567890"}
	res, err := c.CancelContact(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Listed || !reflect.DeepEqual(res.Cancelled, []string{req.Callee}) || res.Code != 200 {
		t.Errorf("result %+v", res)
	}
	reqs := s.Requests()
	r := reqs[len(reqs)-1]
	if r.Path != airudder.DefaultCancelContactPath || r.Authorization != "Token tok-1" || string(r.Body) != `{"task_id":"task-1","callee":"+6281234567890"}` {
		t.Errorf("request %s %q %s", r.Path, r.Authorization, r.Body)
	}
	if res, err = c.CancelContact(context.Background(), req); err != nil || !res.Listed || len(res.Cancelled) != 0 {
		t.Errorf("second cancel %+v, %v; want success listing nothing", res, err)
	}

	t.Run("configured path", func(t *testing.T) {
		s := airuddertest.New(t, airuddertest.WithCancelContactPath("service/cloud/workflow/cancelcallee"))
		if _, err := s.Client().CancelContact(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if n := s.Count("/service/cloud/workflow/cancelcallee"); n != 1 {
			t.Errorf("%d cancels at the configured path, want 1", n)
		}
	})
	t.Run("outcome unknown", func(t *testing.T) {
		s := airuddertest.New(t)
		s.Inject(s.CancelContactPath(), airuddertest.Always(airuddertest.Fault{Effect: true, Status: 504, Body: "gateway timeout"}))
		_, err := s.Client().CancelContact(context.Background(), req)
		wantOutcome(t, err, "cancelcontact", true, true)
	})
}

func TestCancelledNumbersReadLeniently(t *testing.T) {
	cases := []struct {
		name   string
		body   string // the PDS answer's body
		listed bool
		want   []string
	}{
		{"strings", `["+621","+622"]`, true, []string{"+621", "+622"}},
		{"empty", `[]`, true, []string{}},
		{"objects", `[{"phoneNumber":"+621"},{"callee":"+622"}]`, true, []string{"+621", "+622"}},
		{"under list", `{"list":["+621"],"total":1}`, true, []string{"+621"}},
		{"under contactList, objects", `{"contactList":[{"contact":"+621"}]}`, true, []string{"+621"}},
		{"no body", `null`, false, nil},
		{"a count only", `{"total":1}`, false, nil},
		{"numbers as numbers", `[621]`, false, nil},
		{"an object without a number", `[{"phoneNumber":"+621"},{"status":"ok"}]`, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := airuddertest.New(t)
			s.Inject(s.PDSPath(airudder.PDSCancelTaskContactsPath), airuddertest.Always(airuddertest.Answer(200, `{"code":0,"message":"successfully","body":`+tc.body+`}`)))
			res, err := s.Client().CancelTaskContacts(context.Background(), pdsCancel)
			if err != nil {
				t.Fatal(err)
			}
			if res.Listed != tc.listed || !reflect.DeepEqual(res.Cancelled, tc.want) {
				t.Errorf("Listed %t, Cancelled %#v; want %t, %#v", res.Listed, res.Cancelled, tc.listed, tc.want)
			}
		})
	}
}
