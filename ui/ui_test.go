package ui_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/api"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/dryrun"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
	"github.com/rudderhook/rudderhook/ui"
)

const (
	editorToken = "rh_editor-token-for-tests-0123456789"
	viewerToken = "rh_viewer-token-for-tests-0123456789"
)

const ptpRules = `time_zone: Asia/Jakarta
rules:
  - id: promise-to-pay-reminder
    description: Promise to pay → a reminder the day before the due date.
    when: call.intention_description == "Promise To Pay" && has(call.due_date)
    actions:
      - name: reminder
        type: notify
        target: team_channel
        text: "Remind case {{ .call.case_id }}"
        at: {date: due_date, days_before: 1, time: "09:00"}
        window: {start: "08:00", end: "20:00"}
`

type page struct {
	t       *testing.T
	handler http.Handler
	srv     *httptest.Server
	store   *store.Store
	client  *http.Client
	now     time.Time
}

// newPage serves the rules page on a fresh database, with an editor (Ana) and a viewer (Vic), and the
// rules above in force as version 1.
func newPage(t *testing.T, configure ...func(*ui.Server)) *page {
	t.Helper()
	st := store.New(storetest.DB(t))
	p := &page{t: t, store: st, now: time.Now()}
	inForce := rulesync.New(st)
	targets := map[string]bool{"team_channel": true, "crm": true}
	if _, _, _, err := inForce.Save(context.Background(), []byte(ptpRules), store.RuleSetChange{Origin: "api", Author: rulesync.AuthorAPI}, rules.Options{Targets: targets}); err != nil {
		t.Fatal(err)
	}
	s := &ui.Server{
		Store: st, Rules: inForce, Targets: targets, SessionKey: strings.Repeat("k", 32), SessionTTL: time.Hour,
		Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return p.now },
		Users: []config.User{
			{Name: "Ana", Role: config.RoleEditor, TokenSHA256: ui.HashToken(editorToken)},
			{Name: "Vic", Role: config.RoleViewer, TokenSHA256: ui.HashToken(viewerToken)},
		},
	}
	for _, c := range configure {
		c(s)
	}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	p.handler = h
	p.srv = httptest.NewServer(h)
	t.Cleanup(p.srv.Close)
	p.client = newClient()
	return p
}

// newClient is a browser of its own: its own cookies, redirects not followed.
func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (p *page) do(method, path string, body io.Reader, header http.Header) (*http.Response, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.srv.URL+path, body)
	if err != nil {
		p.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (p *page) form(path string, values url.Values) (*http.Response, string) {
	return p.do(http.MethodPost, path, strings.NewReader(values.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
}

func (p *page) signIn(token string) {
	p.t.Helper()
	resp, body := p.form("/ui/login", url.Values{"token": {token}, "next": {"/ui/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		p.t.Fatalf("sign in = %d %s", resp.StatusCode, body)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

// csrf is the token a page of the signed-in user carries.
func (p *page) csrf() string {
	p.t.Helper()
	_, body := p.do(http.MethodGet, "/ui/", nil, nil)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		p.t.Fatalf("no CSRF token on the page:\n%s", body)
	}
	return m[1]
}

func (p *page) api(path, csrf string, v any) (int, map[string]any) {
	p.t.Helper()
	b, _ := json.Marshal(v)
	h := http.Header{"Content-Type": {"application/json"}}
	if csrf != "" {
		h.Set("X-CSRF-Token", csrf)
	}
	resp, body := p.do(http.MethodPost, path, bytes.NewReader(b), h)
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		p.t.Fatalf("%s answered %d, not JSON: %s", path, resp.StatusCode, body)
	}
	return resp.StatusCode, out
}

// Sign-ins are limited per client address, read through the trusted proxies as the API's router reads
// it (the page mounted there as cmd mounts it): a client that tries many wrong tokens is refused (429)
// while another client, behind the same trusted proxy, still signs in; a client that is not a trusted
// proxy cannot escape its limit by writing X-Forwarded-For.
func TestSignInLimitIsPerClient(t *testing.T) {
	t.Parallel()
	p := newPage(t)
	gin.SetMode(gin.ReleaseMode)
	router, err := (&api.Server{RulesPage: p.handler, TrustedProxies: []string{"10.0.0.0/8"}, Log: slog.New(slog.DiscardHandler)}).Handler()
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(remote, forwardedFor, token string) int {
		req := httptest.NewRequest(http.MethodPost, "/ui/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = remote
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		return rec.Code
	}
	const proxy = "10.1.2.3:40000"
	floods := map[string]func(i int) int{
		"client A through the proxy": func(int) int { return signIn(proxy, "198.51.100.7", "guess") },
		"client C directly, forging X-Forwarded-For": func(i int) int {
			return signIn("203.0.113.9:5555", fmt.Sprintf("192.0.2.%d", i), "guess")
		},
	}
	for name, attempt := range floods {
		var last int
		for i := range 30 {
			last = attempt(i)
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("%s: the 30th wrong token in a row = %d, want 429", name, last)
		}
	}
	if code := signIn(proxy, "198.51.100.8", viewerToken); code != http.StatusSeeOther {
		t.Errorf("client B through the same proxy, after the floods: sign-in = %d, want 303", code)
	}
	if code := signIn("203.0.113.10:5555", "", viewerToken); code != http.StatusSeeOther {
		t.Errorf("client D directly, after the floods: sign-in = %d, want 303", code)
	}
	if code := signIn(proxy, "198.51.100.7", viewerToken); code != http.StatusTooManyRequests {
		t.Errorf("client A, with the right token, still inside its limit: %d, want 429", code)
	}
}

func TestSignInSessionsAndRoles(t *testing.T) {
	t.Parallel()
	p := newPage(t)

	// Not signed in: the page sends people to sign in; its API answers 401.
	resp, _ := p.do(http.MethodGet, "/ui/edit", nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login?next=%2Fui%2Fedit" {
		t.Errorf("GET /ui/edit signed out = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _ := p.api("/ui/api/build", "", map[string]any{"yaml": "rules: []"}); code != http.StatusUnauthorized {
		t.Errorf("build signed out = %d", code)
	}
	if resp, _ := p.form("/ui/login", url.Values{"token": {"not-a-token"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token = %d", resp.StatusCode)
	}
	// A redirect after sign-in stays on the page.
	if resp, _ := p.form("/ui/login", url.Values{"token": {viewerToken}, "next": {"//evil.example/ui/"}}); resp.Header.Get("Location") != "/ui/" {
		t.Errorf("next=//evil.example → %s", resp.Header.Get("Location"))
	}

	p.signIn(viewerToken)
	var cookie *http.Cookie
	for _, c := range resp2Cookies(t, p) {
		cookie = c
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/ui/" || cookie.MaxAge != 3600 {
		t.Fatalf("session cookie = %+v", cookie)
	}
	resp, body := p.do(http.MethodGet, "/ui/", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Vic") || !strings.Contains(body, "<em>Promise To Pay</em>") {
		t.Fatalf("GET /ui/ = %d\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", resp.Header)
	}
	csrf := p.csrf()

	// A viewer may try drafts but not save them.
	if code, out := p.api("/ui/api/build", csrf, map[string]any{"yaml": ptpRules}); code != http.StatusOK || len(out["problems"].([]any)) != 0 {
		t.Errorf("build as viewer = %d %v", code, out)
	}
	if code, out := p.api("/ui/api/save", csrf, map[string]any{"yaml": ptpRules, "comment": "x", "base_version": 1}); code != http.StatusForbidden {
		t.Errorf("save as viewer = %d %v", code, out)
	}
	if _, body := p.do(http.MethodGet, "/ui/edit", nil, nil); !strings.Contains(body, `id="viewer-note"`) || strings.Contains(body, `id="save-button"`) {
		t.Errorf("the editor offers a viewer to switch on")
	}

	// Signed out, the cookie no longer works.
	if resp, _ := p.form("/ui/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out = %d", resp.StatusCode)
	}
	if resp, _ := p.do(http.MethodGet, "/ui/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign-out GET /ui/ = %d", resp.StatusCode)
	}

	// An editor saves, with the CSRF token only; the version records who and why.
	p.signIn(editorToken)
	csrf = p.csrf()
	changed := strings.Replace(ptpRules, `"09:00"`, `"10:00"`, 1)
	if code, _ := p.api("/ui/api/save", "", map[string]any{"yaml": changed, "comment": "later", "base_version": 1}); code != http.StatusForbidden {
		t.Errorf("save without CSRF token = %d", code)
	}
	if code, _ := p.api("/ui/api/save", "forged", map[string]any{"yaml": changed, "comment": "later", "base_version": 1}); code != http.StatusForbidden {
		t.Errorf("save with a wrong CSRF token = %d", code)
	}
	if code, out := p.api("/ui/api/save", csrf, map[string]any{"yaml": changed, "comment": " ", "base_version": 1}); code != http.StatusUnprocessableEntity {
		t.Errorf("save without a reason = %d %v", code, out)
	}
	code, out := p.api("/ui/api/save", csrf, map[string]any{"yaml": changed, "comment": "Remind later in the morning", "base_version": 1})
	if code != http.StatusOK || out["version"] != 2.0 || out["created"] != true {
		t.Fatalf("save = %d %v", code, out)
	}
	rec, _ := p.store.LatestRuleSet(context.Background())
	if rec.Author != "Ana" || rec.Comment != "Remind later in the morning" || rec.Origin != "ui" {
		t.Errorf("version 2 = %+v", rec)
	}
	// A save made from version 1 after version 2 came into force would undo it unseen: refused.
	if code, out := p.api("/ui/api/save", csrf, map[string]any{"yaml": ptpRules, "comment": "x", "base_version": 1}); code != http.StatusConflict {
		t.Errorf("a stale save = %d %v", code, out)
	}
	// A cross-site form post is refused before it is read, whatever it carries.
	resp, _ = p.do(http.MethodPost, "/ui/history/1/restore", strings.NewReader("csrf="+csrf),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"cross-site"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site restore = %d", resp.StatusCode)
	}

	// The session ends at its expiry.
	p.now = p.now.Add(2 * time.Hour)
	if resp, _ := p.do(http.MethodGet, "/ui/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("an expired session = %d", resp.StatusCode)
	}
}

func resp2Cookies(t *testing.T, p *page) []*http.Cookie {
	t.Helper()
	// The jar hides the attributes; sign in again without it to read them.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(p.srv.URL+"/ui/login", url.Values{"token": {viewerToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Cookies()
}

func TestTamperedSessionIsRefused(t *testing.T) {
	t.Parallel()
	p := newPage(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(p.srv.URL+"/ui/login", url.Values{"token": {viewerToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	value := resp.Cookies()[0].Value
	payload, sig, _ := strings.Cut(value, ".")
	// The viewer's session, renamed to the editor's: the signature no longer matches.
	raw, _ := base64Decode(payload)
	forged := strings.Replace(string(raw), `"n":"Vic"`, `"n":"Ana"`, 1)
	for _, v := range []string{base64Encode([]byte(forged)) + "." + sig, payload + ".x", "garbage"} {
		req, _ := http.NewRequest(http.MethodGet, p.srv.URL+"/ui/", nil)
		req.AddCookie(&http.Cookie{Name: "rudderhook_session", Value: v})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("cookie %q = %d, want a redirect to sign in", v, resp.StatusCode)
		}
	}
}

func TestBuildPlacesProblemsOnTheForm(t *testing.T) {
	t.Parallel()
	p := newPage(t)
	p.signIn(editorToken)
	csrf := p.csrf()
	d := rules.ParseDraft([]byte(ptpRules))
	d.Rules[0].Actions[0].At.Time = "10:0"
	code, out := p.api("/ui/api/build", csrf, map[string]any{"draft": d})
	problems, _ := out["problems"].([]any)
	if code != http.StatusOK || len(problems) != 1 {
		t.Fatalf("build = %d %v", code, out)
	}
	pr := problems[0].(map[string]any)
	if pr["path"] != "rules[0].actions[0].at.time" || !strings.Contains(pr["message"].(string), `"10:0" is not a time of day`) {
		t.Errorf("problem = %v", pr)
	}
	if out["sentences"] != nil {
		t.Errorf("sentences of a draft with problems: %v", out["sentences"])
	}
	d.Rules[0].Actions[0].At.Time = "10:00"
	_, out = p.api("/ui/api/build", csrf, map[string]any{"draft": d})
	if len(out["problems"].([]any)) != 0 || !strings.Contains(out["yaml"].(string), `time: "10:00"`) {
		t.Errorf("fixed draft: %v", out)
	}
	sentence, _ := json.Marshal(out["sentences"])
	if !strings.Contains(string(sentence), "the day before the due date at ") || !strings.Contains(string(sentence), `"10:00"`) {
		t.Errorf("sentences = %s", sentence)
	}
	// The advanced view: YAML in, the form's draft out, problems by line.
	_, out = p.api("/ui/api/build", csrf, map[string]any{"yaml": strings.Replace(ptpRules, "team_channel", "teams", 1)})
	pr = out["problems"].([]any)[0].(map[string]any)
	if pr["path"] != "rules[0].actions[0].target" || out["draft"] == nil {
		t.Errorf("YAML with an unknown target: %v", out)
	}
}

func TestHistoryAndRestore(t *testing.T) {
	t.Parallel()
	p := newPage(t)
	p.signIn(editorToken)
	csrf := p.csrf()
	changed := strings.Replace(ptpRules, `"09:00"`, `"10:00"`, 1)
	if code, out := p.api("/ui/api/save", csrf, map[string]any{"yaml": changed, "comment": "Later", "base_version": 1}); code != http.StatusOK {
		t.Fatalf("save = %d %v", code, out)
	}
	_, body := p.do(http.MethodGet, "/ui/history", nil, nil)
	for _, want := range []string{"Version 2", "Ana", "“Later”", "action reminder.at.time 09:00 → 10:00", "admin API", "Restore version 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("history lacks %q", want)
		}
	}
	resp, _ := p.form("/ui/history/1/restore", url.Values{"csrf": {csrf}, "comment": {"too late for some"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/history?restored=1&as=3" {
		t.Fatalf("restore = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	rec, _ := p.store.LatestRuleSet(context.Background())
	if rec.Version != 3 || rec.Document != ptpRules || rec.Author != "Ana" || rec.Comment != "Restored version 1: too late for some" {
		t.Errorf("version 3 = %+v", rec)
	}
	// Restoring what is in force changes nothing.
	if resp, _ := p.form("/ui/history/3/restore", url.Values{"csrf": {csrf}}); resp.Header.Get("Location") != "/ui/history?unchanged=3" {
		t.Errorf("restore the version in force → %s", resp.Header.Get("Location"))
	}
	if resp, _ := p.form("/ui/history/99/restore", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("restore a missing version = %d", resp.StatusCode)
	}
	// The history page sends the version in force it showed; a restore from a page opened before another
	// version was switched on is refused, not applied over it.
	if _, body := p.do(http.MethodGet, "/ui/history", nil, nil); !strings.Contains(body, `name="base" value="3"`) {
		t.Errorf("the restore form does not say which version is in force")
	}
	if resp, _ := p.form("/ui/history/2/restore", url.Values{"csrf": {csrf}, "base": {"2"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("restore from a stale history page = %d", resp.StatusCode)
	}
	if rec, _ := p.store.LatestRuleSet(context.Background()); rec.Version != 3 {
		t.Errorf("a refused restore switched on version %d", rec.Version)
	}
}

// storeCall stores a variant of the example call received at a time.
func storeCall(t *testing.T, st *store.Store, key, intention, due string, at time.Time) {
	t.Helper()
	rc := airudder.ExampleCalls("airudder", at)[0]
	rc.Key, rc.Call.CallID, rc.Call.IntentionDescription = key, key, intention
	end := at.Add(-time.Minute)
	rc.Call.CallEndTime = &end
	rc.Call.DueDate = nil
	if due != "" {
		d, err := airudder.ParseDate(due)
		if err != nil {
			t.Fatal(err)
		}
		rc.Call.DueDate = &d
	}
	if _, err := st.StoreRevision(context.Background(), airudder.CallSubject(rc), "call/airudder/"+key, true); err != nil {
		t.Fatal(err)
	}
}

func TestDryRunComparesWithTheRulesInForce(t *testing.T) {
	t.Parallel()
	p := newPage(t)
	now := time.Now().UTC()
	// The page reads the period's days in the rules' zone: count them there, or from 17:00 UTC on the
	// calls of the last hours fall on a day after the period.
	jakarta, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Fatal(err)
	}
	day := func(d int) string { return now.In(jakarta).AddDate(0, 0, d).Format(time.DateOnly) }
	storeCall(t, p.store, "ptp-1", "Promise To Pay", day(5), now.Add(-time.Hour))
	storeCall(t, p.store, "ptp-2", "Promise To Pay", day(6), now.Add(-2*time.Hour))
	storeCall(t, p.store, "ptp-past", "Promise To Pay", day(-3), now.Add(-3*time.Hour)) // its reminder time had passed
	storeCall(t, p.store, "nfu", "Needs Follow Up", "", now.Add(-time.Hour))
	storeCall(t, p.store, "old", "Promise To Pay", day(-1), now.AddDate(0, 0, -20)) // outside the period
	p.signIn(viewerToken)
	csrf := p.csrf()
	draft := strings.Replace(ptpRules, `"09:00"`, `"10:00"`, 1) + `  - id: follow-up-task
    when: call.intention_description == "Needs Follow Up"
    actions: [{name: task, type: webhook, target: crm}]
`
	code, out := p.api("/ui/api/dry-run", csrf, map[string]any{"yaml": draft, "from": day(-6), "to": day(0)})
	if code != http.StatusOK {
		t.Fatalf("dry run = %d %v", code, out)
	}
	var resp struct {
		Diff dryrun.Diff `json:"diff"`
	}
	b, _ := json.Marshal(out)
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	d := resp.Diff
	if d.Calls != 4 || len(d.Rows) != 2 {
		t.Fatalf("diff = %s", b)
	}
	ptp, task := d.Rows[0], d.Rows[1]
	if ptp.Rule != "promise-to-pay-reminder" || ptp.InForce != 2 || ptp.Draft != 2 || ptp.Changed != 2 || ptp.InForceSkipped != 1 || ptp.DraftSkipped != 1 || ptp.Added != 0 {
		t.Errorf("the changed reminder: %+v", ptp)
	}
	if s := ptp.Samples[0]; s.Change != "changed" || !strings.Contains(s.When, "10:00") || !strings.Contains(s.Before, "09:00") || !strings.Contains(s.Request, "Remind case") {
		t.Errorf("sample: %+v", s)
	}
	if task.Rule != "follow-up-task" || task.InForce != 0 || task.Draft != 1 || task.Added != 1 {
		t.Errorf("the new rule: %+v", task)
	}
	if d.Changed != 3 {
		t.Errorf("changed = %d, want 3", d.Changed)
	}
	// A draft with problems does not run.
	if code, out := p.api("/ui/api/dry-run", csrf, map[string]any{"yaml": "rules: [", "from": day(-6), "to": day(0)}); code != http.StatusUnprocessableEntity {
		t.Errorf("a broken draft = %d %v", code, out)
	}
}

func base64Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
func base64Encode(b []byte) string          { return base64.RawURLEncoding.EncodeToString(b) }

// The notice a page shows after a redirect (?saved=, ?unchanged=, ?restored=&as=) takes only version
// numbers: anything else in the query, however harmless it looks once escaped, is text that a link
// could put on the page under rudderhook's name, so it shows nothing.
func TestNoticeTakesOnlyAVersionNumber(t *testing.T) {
	t.Parallel()
	p := newPage(t)
	p.signIn(viewerToken)
	for path, want := range map[string]string{
		"/ui/history?saved=12":                         "Version 12 is in force.",
		"/ui/history?unchanged=3":                      "Nothing changed: version 3 already says exactly this.",
		"/ui/history?restored=1&as=4":                  "Version 1 is restored: it is in force as version 4.",
		"/ui/?saved=%3Cscript%3Ealert(1)%3C/script%3E": "",
		"/ui/history?saved=2.+Your+session+has+ended%3A+sign+in+again+at+evil.example": "",
		"/ui/history?unchanged=1+or+call+%2B1-800-FAKE":                                "",
		"/ui/history?restored=1&as=4%3Cb%3E":                                           "",
		"/ui/history?saved=-3":                                                         "",
	} {
		resp, body := p.do(http.MethodGet, path, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
		got := ""
		if m := noticeRE.FindStringSubmatch(body); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("GET %s shows the notice %q, want %q", path, got, want)
		}
		for _, injected := range []string{"alert(", "evil.example", "FAKE", "4&lt;b"} {
			if strings.Contains(body, injected) {
				t.Errorf("GET %s reflects %q", path, injected)
			}
		}
	}
}

var noticeRE = regexp.MustCompile(`<p class="notice" role="status" id="notice">([^<]*)</p>`)

// secretRules are ptpRules and a webhook whose URL and headers carry secrets.
const secretRules = ptpRules + `  - id: crm-task
    when: call.intention_description == "Needs Follow Up"
    actions:
      - name: task
        type: webhook
        # the CRM's own endpoint, not a configured target
        url: "https://hook-user:hook-pass@hooks.example.com/services/T0/s3cr3tpath?token=qtok&queue=ops"
        headers: {Authorization: "Bearer hdr-secret", X-Api-Key: key-secret}
`

var editorDataRE = regexp.MustCompile(`(?s)<script type="application/json" id="editor-data">(.*?)</script>`)

// A viewer sees the rules with the secrets a rule may carry hidden — the user info, path and query values
// of a url, every header value — on every page and answer that shows them (the editor's YAML and form, the
// history's versions, changes and line diff, a dry run's samples), and can still try the rules as shown;
// an editor sees them whole.
func TestViewersSeeRulesWithSecretsHidden(t *testing.T) {
	t.Parallel()
	p := newPage(t)
	storeCall(t, p.store, "nfu", "Needs Follow Up", "", time.Now().Add(-time.Hour))
	p.signIn(editorToken)
	csrf := p.csrf()
	if code, out := p.api("/ui/api/save", csrf, map[string]any{"yaml": secretRules, "comment": "CRM tasks", "base_version": 1}); code != http.StatusOK {
		t.Fatalf("save = %d %v", code, out)
	}
	rotated := strings.Replace(secretRules, "hdr-secret", "hdr-rotated", 1)
	if code, out := p.api("/ui/api/save", csrf, map[string]any{"yaml": rotated, "comment": "New CRM key", "base_version": 2}); code != http.StatusOK {
		t.Fatalf("save = %d %v", code, out)
	}
	secrets := []string{"hook-user", "hook-pass", "s3cr3tpath", "qtok", "hdr-secret", "hdr-rotated", "key-secret"}

	// The editor sees every value.
	_, body := p.do(http.MethodGet, "/ui/edit", nil, nil)
	for _, s := range []string{"hook-user", "hook-pass", "s3cr3tpath", "qtok", "hdr-rotated", "key-secret"} {
		if !strings.Contains(body, s) {
			t.Errorf("the editor's editor page lacks %q", s)
		}
	}
	if _, body := p.do(http.MethodGet, "/ui/history", nil, nil); !strings.Contains(body, "hdr-secret") || !strings.Contains(body, "hdr-rotated") {
		t.Errorf("the editor's history lacks the header values")
	}

	p.signIn(viewerToken)
	csrf = p.csrf()
	_, body = p.do(http.MethodGet, "/ui/edit", nil, nil)
	_, history := p.do(http.MethodGet, "/ui/history", nil, nil)
	for page, text := range map[string]string{"editor": body, "history": history} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the viewer's %s page shows %q", page, s)
			}
		}
		for _, want := range []string{"hooks.example.com", "Authorization", "X-Api-Key", "••••", "token=xxxxx"} {
			if !strings.Contains(text, want) {
				t.Errorf("the viewer's %s page lacks %q", page, want)
			}
		}
	}
	if !strings.Contains(history, "the CRM&#39;s own endpoint") {
		t.Errorf("the viewer's history lost the rules' comments")
	}
	if !strings.Contains(history, "Rule <strong>crm-task</strong> changed") {
		t.Errorf("the history does not tell the viewer that version 3 changed crm-task")
	}
	m := editorDataRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no editor data on the page")
	}
	var data struct {
		YAML string `json:"yaml"`
	}
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatal(err)
	}
	// The rules as shown are the rules: trying them changes nothing, and shows no secret.
	day := func(d int) string { return time.Now().UTC().AddDate(0, 0, d).Format(time.DateOnly) }
	code, out := p.api("/ui/api/dry-run", csrf, map[string]any{"yaml": data.YAML, "from": day(-1), "to": day(1)})
	answer, _ := json.Marshal(out)
	if code != http.StatusOK || out["diff"].(map[string]any)["changed"] != 0.0 || !strings.Contains(string(answer), "POST to hooks.example.com") {
		t.Errorf("the viewer's dry run of the rules as shown = %d %s", code, answer)
	}
	for _, s := range secrets {
		if strings.Contains(string(answer), s) {
			t.Errorf("the viewer's dry run shows %q", s)
		}
	}
}

// A viewer may try drafts, so what a draft costs is bounded twice: a template that could run for ever is
// refused when the draft is built, with a problem placed on its action's field, and each person's builds
// and dry runs share a budget of work (here a tiny one), beyond which they are answered 429 with when to
// try again, while other people keep theirs.
func TestBuildsAndDryRunsAreLimitedPerPerson(t *testing.T) {
	t.Parallel()
	p := newPage(t, func(s *ui.Server) { s.Checks = ui.CheckLimit{Share: 0.001, Burst: 100 * time.Millisecond} })
	p.signIn(viewerToken)
	csrf := p.csrf()
	bomb := "rules:\n  - id: r\n    when: 'true'\n    actions:\n      - {name: chat, type: notify, target: team_channel, text: '{{range 100000000000}}x{{end}}'}\n"
	code, out := p.api("/ui/api/build", csrf, map[string]any{"yaml": bomb})
	if code != http.StatusOK || len(out["problems"].([]any)) != 1 {
		t.Fatalf("build = %d %v", code, out)
	}
	pr := out["problems"].([]any)[0].(map[string]any)
	if pr["rule"] != "r" || pr["action"] != "chat" || pr["path"] != "rules[0].actions[0].text" || !strings.Contains(pr["message"].(string), "range over a number is not allowed") {
		t.Errorf("problem = %v", pr)
	}
	// Each build costs at least 50 ms of the budget of 100: the third is refused, and so is a dry run.
	post := func(p *page, path, csrf string, body any) (*http.Response, string) {
		b, _ := json.Marshal(body)
		return p.do(http.MethodPost, path, bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}, "X-Csrf-Token": {csrf}})
	}
	var refused *http.Response
	var msg string
	for range 2 {
		if refused, msg = post(p, "/ui/api/build", csrf, map[string]any{"yaml": ptpRules}); refused.StatusCode == http.StatusTooManyRequests {
			break
		}
	}
	if refused.StatusCode != http.StatusTooManyRequests || refused.Header.Get("Retry-After") == "" || !strings.Contains(msg, "wait") {
		t.Fatalf("after a burst of builds: %d %s %v", refused.StatusCode, msg, refused.Header)
	}
	if resp, msg := post(p, "/ui/api/dry-run", csrf, map[string]any{"yaml": ptpRules, "from": "2024-03-04", "to": "2024-03-11"}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a dry run after the burst = %d %s", resp.StatusCode, msg)
	}
	// Ana has her own budget.
	ana := &page{t: t, srv: p.srv, store: p.store, client: newClient(), now: p.now}
	ana.signIn(editorToken)
	if code, out := ana.api("/ui/api/build", ana.csrf(), map[string]any{"yaml": ptpRules}); code != http.StatusOK {
		t.Errorf("another person's build = %d %v", code, out)
	}
}
