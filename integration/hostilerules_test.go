package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/ui"
)

// hostileRules are rules documents whose templates would run without bound while they compile: on the
// code before templates were bounded, the first took serve past 2 GB within seconds and never answered.
// The last ranges over a number that the refusal of range over a number cannot see (the rule's own
// field): its ranges stop at 10,000 turns.
var hostileRules = map[string]string{
	"range over a number": hostileDoc(`{{range 100000000000}}x{{end}}`, ""),
	"recursion":           hostileDoc(`{{define "a"}}{{template "a" .}}{{template "a" .}}{{end}}{{template "a" .}}`, ""),
	"a wide printf":       hostileDoc(strings.Repeat(`{{printf "%999999d" 1}}`, 50), ""),
	"range over a field":  hostileDoc(`{{range .action.fields.n}}{{end}}`, "fields: {n: 100000000000}, "),
}

func hostileDoc(text, more string) string {
	q, _ := json.Marshal(text)
	return "rules:\n  - id: hostile\n    when: 'true'\n    actions:\n      - {name: chat, type: notify, target: team, " + more + "text: " + string(q) + "}\n"
}

// wideRules are sound on the example call, whose variables are few, but not on a call with a thousand:
// 100 bytes each is more than a template may give (64 KiB).
const wideRules = `rules:
  - id: wide
    when: call.call_id.startsWith("big-")
    actions:
      - {name: list, type: notify, target: team, text: '{{range .call.variables}}{{printf "%100s" .}}{{end}}'}
      - {name: case, type: notify, target: team, text: 'case {{ .call.case_id }}'}
`

// callbackResult is how one callback posted during the test was answered.
type callbackResult struct {
	status int
	err    error
	took   time.Duration
}

// While callbacks are posted without pause, hostile rules go in by every door that compiles them: PUT
// /v1/rules, POST /v1/rules/dry-run, and the rules page's build and dry run as a viewer. Each is refused
// at once, with the rule and action named, and every callback is answered 200 throughout. A template
// that is sound on the example call and saved meets a call it cannot finish within its bounds: the worker
// plans its action as skipped, with the bound it met, and the rule's other action goes out.
func TestHostileRulesAreRefusedWhileCallbacksAreAnswered(t *testing.T) {
	const vicToken = "rh_vic-tries-a-hostile-draft-0123456789"
	team := newTarget(t, always(http.StatusOK))
	s := start(t, options{environ: []string{
		"RUDDERHOOK_TARGET_TEAM_URL=" + team.URL,
		"RUDDERHOOK_USERS=Vic:viewer:" + ui.HashToken(vicToken), "RUDDERHOOK_SESSION_KEY=" + strings.Repeat("s", 32),
	}})
	// Every request of this test has 10 s: the hostile ones would never be answered without the bounds.
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(c *http.Client, method, path, contentType string, body []byte, header http.Header) (int, []byte, time.Duration) {
		t.Helper()
		req, err := http.NewRequest(method, s.http.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header.Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set("Content-Type", contentType)
		began := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, time.Since(began)
	}
	admin := http.Header{"Authorization": {"Bearer " + adminToken}}
	if status, body, _ := send(client, http.MethodPut, "/v1/rules", "application/yaml", []byte(wideRules), admin); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}

	// Callbacks, one after another, until the test has tried every door.
	var (
		mu      sync.Mutex
		results []callbackResult
		stop    = make(chan struct{})
		done    sync.WaitGroup
	)
	done.Add(1)
	go func() {
		defer done.Done()
		callbacks := &http.Client{Timeout: 5 * time.Second}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := signed(t, func(_ map[string]any, details []any) []any {
				return []any{detailCopy(details, fmt.Sprintf("steady-%d", i))}
			})
			began := time.Now()
			resp, err := callbacks.Post(s.http.URL+"/webhooks/airudder/call-completed", "application/json", bytes.NewReader(body))
			r := callbackResult{err: err, took: time.Since(began)}
			if err == nil {
				r.status = resp.StatusCode
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}
	}()
	answered := func() int { mu.Lock(); defer mu.Unlock(); return len(results) }
	eventually(t, "the first callbacks to be answered", func() bool { return answered() >= 3 })

	// The viewer signs in.
	jar, _ := cookiejar.New(nil)
	page := &http.Client{Timeout: 10 * time.Second, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if status, body, _ := send(page, http.MethodPost, "/ui/login", "application/x-www-form-urlencoded",
		[]byte(url.Values{"token": {vicToken}, "next": {"/ui/"}}.Encode()), nil); status != http.StatusSeeOther {
		t.Fatalf("sign in = %d %s", status, body)
	}
	_, home, _ := send(page, http.MethodGet, "/ui/", "", nil, nil)
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindSubmatch(home)
	if m == nil {
		t.Fatalf("no CSRF token:\n%s", home)
	}
	pageHeader := http.Header{"X-Csrf-Token": {string(m[1])}}
	before := answered()

	// Each hostile document, by each door: refused, naming the rule and the action.
	type problem struct {
		Rule, Action, Path, Message string
	}
	named := func(ps []problem) bool {
		return len(ps) == 1 && ps[0].Rule == "hostile" && ps[0].Action == "chat" && strings.HasPrefix(ps[0].Message, "text: ")
	}
	for name, doc := range hostileRules {
		status, body, took := send(client, http.MethodPut, "/v1/rules", "application/yaml", []byte(doc), admin)
		var apiErr struct {
			Error struct {
				Code     string
				Problems []problem
			}
		}
		mustUnmarshal(t, body, &apiErr)
		if status != http.StatusUnprocessableEntity || apiErr.Error.Code != "invalid_rules" || !named(apiErr.Error.Problems) {
			t.Errorf("%s: PUT /v1/rules = %d %s", name, status, body)
		}
		t.Logf("%s: PUT /v1/rules answered %d in %s", name, status, took)

		draft, _ := json.Marshal(map[string]any{"rules": doc})
		status, body, took = send(client, http.MethodPost, "/v1/rules/dry-run", "application/json", draft, admin)
		mustUnmarshal(t, body, &apiErr)
		if status != http.StatusUnprocessableEntity || !named(apiErr.Error.Problems) {
			t.Errorf("%s: POST /v1/rules/dry-run = %d %s", name, status, body)
		}
		t.Logf("%s: POST /v1/rules/dry-run answered %d in %s", name, status, took)

		build, _ := json.Marshal(map[string]any{"yaml": doc})
		status, body, took = send(page, http.MethodPost, "/ui/api/build", "application/json", build, pageHeader)
		var built struct{ Problems []problem }
		mustUnmarshal(t, body, &built)
		if status != http.StatusOK || !named(built.Problems) || built.Problems[0].Path != "rules[0].actions[0].text" {
			t.Errorf("%s: the page's build = %d %s", name, status, body)
		}
		t.Logf("%s: the page's build answered %d in %s", name, status, took)

		today := time.Now().UTC().Format(time.DateOnly)
		dry, _ := json.Marshal(map[string]any{"yaml": doc, "from": today, "to": today})
		status, body, took = send(page, http.MethodPost, "/ui/api/dry-run", "application/json", dry, pageHeader)
		var refused struct{ Problems []problem }
		mustUnmarshal(t, body, &refused)
		if status != http.StatusUnprocessableEntity || !named(refused.Problems) {
			t.Errorf("%s: the page's dry run = %d %s", name, status, body)
		}
		t.Logf("%s: the page's dry run answered %d in %s", name, status, took)
	}

	// The saved rule meets a call with a thousand variables.
	big := signed(t, func(_ map[string]any, details []any) []any {
		d := detailCopy(details, "big-1")
		vars := map[string]string{}
		for i := range 1000 {
			vars[fmt.Sprintf("v%04d", i)] = "x"
		}
		d["Variables"] = vars
		return []any{d}
	})
	if status, body, _ := send(client, http.MethodPost, "/webhooks/airudder/call-completed", "application/json", big, nil); status != http.StatusOK {
		t.Fatalf("POST big-1 = %d %s", status, body)
	}
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE action = 'list' AND status = 'skipped' AND last_error LIKE '%text: gives more than 64 KiB%'`, 1)
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE action = 'case' AND status = 'succeeded'`, 1)
	if got := team.received(); len(got) != 1 || !strings.Contains(string(got[0].body), "case 7777777.0") {
		t.Errorf("the team received %d messages: %+v", len(got), got)
	}

	close(stop)
	done.Wait()
	var slowest time.Duration
	for i, r := range results {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("callback %d: %d, %v", i, r.status, r.err)
		}
		slowest = max(slowest, r.took)
	}
	if len(results) <= before {
		t.Errorf("no callback was answered after the hostile rules (%d before, %d in all)", before, len(results))
	}
	t.Logf("%d callbacks answered 200 during the test (%d after the hostile rules began), the slowest in %s", len(results), len(results)-before, slowest)
}
