package airuddertest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
)

// post sends body to path on s as our client would, with token when it is not "", and decodes the answer.
func post(t *testing.T, s *airuddertest.Server, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	res, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var env map[string]any // nil when the answer is no JSON object (a bare 401 from a gateway)
	_ = json.Unmarshal(raw, &env)
	return res.StatusCode, env
}

func token(t *testing.T, s *airuddertest.Server) string {
	t.Helper()
	_, env := post(t, s, airudder.WorkflowAuthPath, "", `{"APPKey":"`+airuddertest.AppKey+`","APPSecret":"`+airuddertest.AppSecret+`"}`)
	tok, _ := env["data"].(map[string]any)["token"].(string)
	if tok == "" {
		t.Fatalf("no token in %v", env)
	}
	return tok
}

func TestCreateInstanceIsValidatedAsDocumented(t *testing.T) {
	cases := []struct {
		name, body string
		ok         bool
	}{
		{"valid", `{"workflow_template_id":7,"name":"n","end_time":"2025-03-01 21:30:00"}`, true},
		{"valid with every optional field", `{"workflow_template_id":7,"name":"n","end_time":"2025-03-01 21:30:00",` +
			`"workflow_template_name":"t","workflow_name":"w","auto_finish":1}`, true},
		{"details, which createinstance does not take", `{"workflow_template_id":7,"name":"n","end_time":"2025-03-01 21:30:00","details":[{"callee":"+621"}]}`, false},
		{"auto_finish as a string", `{"workflow_template_id":7,"name":"n","end_time":"2025-03-01 21:30:00","auto_finish":"1"}`, false},
		{"workflow_name not a string", `{"workflow_template_id":7,"name":"n","end_time":"2025-03-01 21:30:00","workflow_name":3}`, false},
		{"template ID as a string", `{"workflow_template_id":"7","name":"n","end_time":"2025-03-01 21:30:00"}`, false},
		{"template ID not whole", `{"workflow_template_id":7.5,"name":"n","end_time":"2025-03-01 21:30:00"}`, false},
		{"no template ID", `{"name":"n","end_time":"2025-03-01 21:30:00"}`, false},
		{"no name", `{"workflow_template_id":7,"end_time":"2025-03-01 21:30:00"}`, false},
		{"no end time", `{"workflow_template_id":7,"name":"n"}`, false},
		{"end time in RFC 3339", `{"workflow_template_id":7,"name":"n","end_time":"2025-03-01T21:30:00Z"}`, false},
		{"end time without seconds", `{"workflow_template_id":7,"name":"n","end_time":"2025-03-01 21:30"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := airuddertest.New(t)
			status, env := post(t, s, airudder.CreateInstancePath, token(t, s), tc.body)
			code, _ := env["code"].(float64)
			if status != http.StatusOK || (code == 200) != tc.ok {
				t.Errorf("HTTP %d, answer %v; want success %t", status, env, tc.ok)
			}
			if n := len(s.Instances()); n != map[bool]int{true: 1, false: 0}[tc.ok] {
				t.Errorf("%d instances", n)
			}
			if tc.ok {
				if id, _ := env["data"].(map[string]any)["workflow_id"].(string); id != "wf-1" {
					t.Errorf("answer %v, want workflow_id wf-1", env)
				}
			}
		})
	}
}

// A name is an instance's own: createinstance under a taken name is refused (10508), and nothing is
// created.
func TestCreateInstanceRefusesATakenName(t *testing.T) {
	s := airuddertest.New(t)
	tok := token(t, s)
	body := `{"workflow_template_id":7,"name":"n","end_time":"2025-03-01 21:30:00"}`
	if _, env := post(t, s, airudder.CreateInstancePath, tok, body); env["code"] != float64(200) {
		t.Fatalf("first: %v", env)
	}
	if _, env := post(t, s, airudder.CreateInstancePath, tok, body); env["code"] != float64(10508) {
		t.Errorf("the same name again: %v, want code 10508", env)
	}
	if n := len(s.Instances()); n != 1 {
		t.Errorf("%d instances, want 1", n)
	}
}

// uploaddetails takes {workflow_id, details: [{callee, variables}]}, every variable a string; what it
// adds to an instance the fake created is listed as that instance's callees.
func TestUploadDetailsIsValidatedAsSeen(t *testing.T) {
	cases := []struct {
		name, details string
		ok            bool
	}{
		{"valid", `[{"callee":"+621","variables":{"a":"1"}},{"callee":"+622"}]`, true},
		{"empty", `[]`, true},
		{"no callee", `[{}]`, false},
		{"a variable not a string", `[{"callee":"+621","variables":{"a":1}}]`, false},
		{"variables not an object", `[{"callee":"+621","variables":["a"]}]`, false},
		{"another member", `[{"callee":"+621","name":"Budi"}]`, false},
		{"details not a list", `{"callee":"+621"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := airuddertest.New(t)
			status, env := post(t, s, airudder.UploadDetailsPath, token(t, s), `{"workflow_id":"wf","details":`+tc.details+`}`)
			if code, _ := env["code"].(float64); status != http.StatusOK || (code == 200) != tc.ok {
				t.Errorf("HTTP %d, answer %v; want success %t", status, env, tc.ok)
			}
		})
	}
	s := airuddertest.New(t)
	tok := token(t, s)
	post(t, s, airudder.CreateInstancePath, tok, `{"workflow_template_id":7,"name":"n","end_time":"2025-03-01 21:30:00"}`)
	post(t, s, airudder.UploadDetailsPath, tok, `{"workflow_id":"wf-1","details":[{"callee":"+621"}]}`)
	if in := s.Instances(); len(in) != 1 || !slices.Equal(in[0].Callees, []string{"+621"}) {
		t.Errorf("instances %+v, want wf-1 with callee +621", in)
	}
}

func TestTokensAndCounts(t *testing.T) {
	s := airuddertest.New(t)
	body := `{"workflow_id":"wf","details":[]}`
	if status, _ := post(t, s, airudder.UploadDetailsPath, "tok-1", body); status != http.StatusUnauthorized {
		t.Errorf("upload before any token: HTTP %d, want 401", status)
	}
	tok := token(t, s)
	if status, env := post(t, s, airudder.UploadDetailsPath, tok, body); status != http.StatusOK || env["code"] != float64(200) {
		t.Errorf("upload with %s: HTTP %d %v", tok, status, env)
	}
	s.Expire()
	if status, _ := post(t, s, airudder.UploadDetailsPath, tok, body); status != http.StatusUnauthorized {
		t.Errorf("upload with an expired token: HTTP %d, want 401", status)
	}
	if n := s.Count(airudder.UploadDetailsPath); n != 3 {
		t.Errorf("Count = %d, want 3 (refused ones included)", n)
	}
	if n := len(s.Uploads()); n != 1 {
		t.Errorf("%d uploads carried out, want 1", n)
	}
}

func TestInjectCountsRequestsThatReachIt(t *testing.T) {
	s := airuddertest.New(t)
	var seen []int
	s.Inject(airudder.UploadDetailsPath, func(n int) airuddertest.Fault {
		seen = append(seen, n)
		if n == 2 {
			return airuddertest.Answer(503, `{"code":503,"message":"busy"}`)
		}
		return airuddertest.Fault{}
	})
	tok := token(t, s)
	body := `{"workflow_id":"wf","details":[]}`
	post(t, s, airudder.UploadDetailsPath, "stale", body) // refused before the fault: not counted
	var statuses []int
	for range 3 {
		status, _ := post(t, s, airudder.UploadDetailsPath, tok, body)
		statuses = append(statuses, status)
	}
	if want := []int{200, 503, 200}; !slices.Equal(statuses, want) || !slices.Equal(seen, []int{1, 2, 3}) {
		t.Errorf("statuses %v (want %v), fault saw %v", statuses, want, seen)
	}
	if n := len(s.Uploads()); n != 2 {
		t.Errorf("%d uploads carried out, want 2: a fault without Effect does nothing", n)
	}
}
