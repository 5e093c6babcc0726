// Package airuddertest is a fake of Airudder's open API, for tests of anything that calls it through
// airudder.Client: the client's own tests, the activities that re-call and cancel, and workflow tests.
//
// The fake follows the shapes in airudder/endpoints.go, which is what we know of Airudder (see
// docs/airudder-api.md): the workflow family (token from a JSON request, "Authorization:
// Token <t>", envelope code 200, createinstance, uploaddetails and the guessed cancelcontact) and the PDS
// family (token from a form, envelope code 0 with "body", canceltaskcontacts). It issues tokens and
// accepts only the latest of each family, answering 401 otherwise, so that renewal is exercised. It
// checks requests as Airudder would, in the shapes the notes have seen: createinstance takes only its
// documented fields (workflow_template_id a JSON integer, name, end_time as "YYYY-MM-DD HH:MM:SS",
// optional workflow_template_name, workflow_name, auto_finish an integer; no callees) and a name no other
// instance has (else error 10508, as PDS's createtask answers); uploaddetails takes {workflow_id,
// details: [{callee, variables}]} with every variable a string. It answers an error envelope otherwise.
//
// It records every request and what it carried out (instances created, callees uploaded, numbers
// cancelled), so that a test can assert that a person was called once. A test can make any path
// misbehave with Inject: answer an error, hang, cut the connection or the answer, each before or after
// carrying the request out (a lost answer to a request Airudder did carry out is the case that matters).
//
// Requests that no client of ours should ever send (wrong method, wrong content type, a body that is not
// JSON, an unknown path) fail the test.
//
// It also answers the query APIs (records.go): seeded with call records (Seed), it pages them through
// taskdetail (workflow family) and querytasklist/querytaskdetail (PDS), and names the workflows a callee
// or case is in through detailinstances, uploads and created instances included.
//
// New makes one for a test; Start makes one for `rudderhook dev` (a logger instead of a test: only the
// development build links it, never the release build). It imports airudder and the standard library
// only.
package airuddertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

// The credentials the fake accepts, for both families.
const (
	AppKey    = "test-app-key"
	AppSecret = "test-app-secret"
)

// Fault is how the fake misbehaves on one request. The zero Fault behaves normally.
type Fault struct {
	// Delay waits this long before doing anything else (answering normally, or misbehaving).
	Delay time.Duration
	// Effect carries the request out before misbehaving: Airudder did the work, only the answer went
	// wrong. Without it, a misbehaving request has no effect.
	Effect bool
	// Status and Body answer this instead of the normal answer (Body is sent as JSON).
	Status int
	Body   string
	// Hang answers nothing until the client gives up or the test ends.
	Hang bool
	// Cut closes the connection, once the request has been read, without a word.
	Cut bool
	// Truncate sends the answer's status and headers and half of its body, then closes the connection.
	Truncate bool
}

func (f Fault) misbehaves() bool { return f.Status != 0 || f.Hang || f.Cut || f.Truncate }

// Answer is a Fault that answers status and body instead of the normal answer, without effect.
func Answer(status int, body string) Fault { return Fault{Status: status, Body: body} }

// Always applies f to every request.
func Always(f Fault) func(n int) Fault { return func(int) Fault { return f } }

// Once applies f to the first request only.
func Once(f Fault) func(n int) Fault {
	return func(n int) Fault {
		if n == 1 {
			return f
		}
		return Fault{}
	}
}

// Request is one request the fake received.
type Request struct {
	Path          string
	Authorization string
	ContentType   string
	Body          []byte
	JSON          map[string]any // Body decoded, when it is a JSON object (numbers as json.Number)
	Form          url.Values     // Body decoded, when it is a form
}

// Instance is a workflow task createinstance created.
type Instance struct {
	WorkflowID string
	TemplateID int64
	Name       string
	EndTime    string // as sent
	// AutoFinish is auto_finish as sent, 0 when it was not.
	AutoFinish int64
	// Callees are those uploaddetails added to it since.
	Callees []string
}

// Upload is one uploaddetails Airudder carried out.
type Upload struct {
	WorkflowID string
	Callees    []string
}

// Cancellation is one number whose calls a cancel stopped. A number cancelled twice is recorded once.
type Cancellation struct {
	Family string // "workflow" or "pds"
	TaskID string
	Number string
}

// Option adjusts a Server built by New.
type Option func(*Server)

// WithPDSBase serves the PDS family under base (a path prefix) instead of airudder.DefaultPDSBasePath.
// Server.Client configures the client to match.
func WithPDSBase(base string) Option {
	return func(s *Server) { s.pdsBase = "/" + strings.Trim(base, "/") }
}

// WithCancelContactPath serves the workflow family's cancelcontact at path instead of
// airudder.DefaultCancelContactPath. Server.Client configures the client to match.
func WithCancelContactPath(path string) Option {
	return func(s *Server) { s.cancelContactPath = "/" + strings.TrimLeft(path, "/") }
}

// WithClock makes now the fake's clock: when it says uploads and instances were made.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithMaxRecordsPerQuery makes n the most records a PDS querytaskdetail may page through (default
// airudder.PDSMaxRecordsPerQuery): a paged query (offset > 0) of a range that matches more fails the test.
func WithMaxRecordsPerQuery(n int) Option {
	return func(s *Server) { s.maxPerQuery = n }
}

// WithTLS serves HTTPS, with a certificate that Server.HTTPClient trusts.
func WithTLS() Option {
	return func(s *Server) { s.tls = true }
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give airudder.NewClient.
	URL string

	t                 reporter
	srv               *httptest.Server
	quit              chan struct{}
	closeOnce         sync.Once
	pdsBase           string
	cancelContactPath string
	tls               bool
	now               func() time.Time
	maxPerQuery       int

	mu                 sync.Mutex
	requests           []Request
	faults             map[string]func(int) Fault
	faulted            map[string]int
	tokens             map[string]*tokenState // by family
	unauthorizedByCode bool
	instances          []Instance
	uploads            []Upload
	cancellations      []Cancellation
	cancelled          map[Cancellation]bool
	recordings         map[string]string // PDS callid → recording link (case/recording)
	records            []Record
	overCap            int
	// made are when each instance was created and each upload carried out, by the fake's clock.
	instancesMade, uploadsMade []time.Time
}

// reporter is where the fake says what went wrong: the test (New), or a log (Start).
type reporter interface {
	Errorf(format string, args ...any)
	Log(args ...any)
}

type tokenState struct {
	prefix string
	issued int
	valid  string // "" until one is issued, or after Expire
}

// New starts a fake, closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := start(t, opts)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake outside a test (`rudderhook dev`), saying on log what a test would fail for. The
// caller closes it.
func Start(log *slog.Logger, opts ...Option) *Server {
	return start(logReporter{log}, opts)
}

// logReporter reports to a logger.
type logReporter struct{ log *slog.Logger }

func (l logReporter) Errorf(format string, args ...any) { l.log.Error(fmt.Sprintf(format, args...)) }
func (l logReporter) Log(args ...any)                   { l.log.Debug(fmt.Sprint(args...)) }

func start(t reporter, opts []Option) *Server {
	s := &Server{
		t:                 t,
		now:               time.Now,
		maxPerQuery:       airudder.PDSMaxRecordsPerQuery,
		quit:              make(chan struct{}),
		pdsBase:           airudder.DefaultPDSBasePath,
		cancelContactPath: airudder.DefaultCancelContactPath,
		faults:            map[string]func(int) Fault{},
		faulted:           map[string]int{},
		tokens:            map[string]*tokenState{"workflow": {prefix: "tok-"}, "pds": {prefix: "pds-tok-"}},
		cancelled:         map[Cancellation]bool{},
		recordings:        map[string]string{},
	}
	for _, opt := range opts {
		opt(s)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// The server's own complaints (a refused TLS handshake, a client gone mid-answer) go to the test's log.
	s.srv.Config.ErrorLog = log.New(testLog{t}, "fake Airudder: ", 0)
	if s.tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	return s
}

// testLog writes to the test's log.
type testLog struct{ t reporter }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Client is an airudder.Client for this fake: its URL, credentials, HTTP client, PDS base and cancel
// path, and the account zone UTC; opts come after and may override any of them.
func (s *Server) Client(opts ...airudder.ClientOption) *airudder.Client {
	base := []airudder.ClientOption{
		airudder.WithLocation(time.UTC),
		airudder.WithPDSBase(s.pdsBase),
		airudder.WithCancelContactPath(s.cancelContactPath),
	}
	return airudder.NewClient(s.URL, AppKey, AppSecret, s.HTTPClient(), append(base, opts...)...)
}

// HTTPClient is a new *http.Client that reaches the fake, with no timeout (set one to test timeouts) and
// a Transport of its own, which a test may adjust.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: s.srv.Client().Transport.(*http.Transport).Clone()}
}

// Close stops the fake now (it also stops when the test ends): later requests are refused connections.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		// Release hanging handlers first, or Close would wait for them.
		close(s.quit)
		s.srv.Close()
	})
}

// PDSPath is the full path of one of the PDS family's paths (airudder.PDSAuthPath, …) on this fake.
func (s *Server) PDSPath(path string) string { return s.pdsBase + path }

// CancelContactPath is the path the fake serves the workflow family's cancelcontact at.
func (s *Server) CancelContactPath() string { return s.cancelContactPath }

// Inject makes requests to path (the full path, as Count takes it) misbehave as f says; n counts the
// requests to path that got that far since Inject, from 1. For an API path that is after the token check (a refused
// token is answered 401 as always); for a token path it is before a token is issued. A nil f restores
// normal behaviour.
func (s *Server) Inject(path string, f func(n int) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		delete(s.faults, path)
		return
	}
	s.faults[path] = f
	s.faulted[path] = 0
}

// Expire revokes the current tokens of both families on Airudder's side, as an early expiry would.
func (s *Server) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ts := range s.tokens {
		ts.valid = ""
	}
}

// SetUnauthorizedByCode makes a refused token get HTTP 200 with a code (401 for the workflow family,
// 10813 "Expired user token" for PDS, inferred) instead of a bare HTTP 401 from a gateway.
func (s *Server) SetUnauthorizedByCode(byCode bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unauthorizedByCode = byCode
}

// Requests are the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count is how many requests path received, refused ones included.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Path == path {
			n++
		}
	}
	return n
}

// Instances are the workflow tasks created so far.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Instance(nil), s.instances...)
}

// Uploads are the uploaddetails carried out so far.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Upload(nil), s.uploads...)
}

// Cancellations are the numbers cancelled so far, each once.
func (s *Server) Cancellations() []Cancellation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Cancellation(nil), s.cancellations...)
}

// route is what the fake does for one path: which family's token it wants ("" for a token request),
// what body it takes, and how it carries the request out.
type route struct {
	family string
	form   bool
	act    func(s *Server, req Request) (status int, body string)
}

func (s *Server) routes() map[string]route {
	return map[string]route{
		airudder.WorkflowAuthPath:                      {act: (*Server).workflowAuth},
		airudder.CreateInstancePath:                    {family: "workflow", act: (*Server).createInstance},
		airudder.UploadDetailsPath:                     {family: "workflow", act: (*Server).uploadDetails},
		s.cancelContactPath:                            {family: "workflow", act: (*Server).cancelContact},
		s.pdsBase + airudder.PDSAuthPath:               {form: true, act: (*Server).pdsAuth},
		s.pdsBase + airudder.PDSCancelTaskContactsPath: {family: "pds", act: (*Server).pdsCancel},
		s.pdsBase + airudder.PDSCaseRecordingPath:      {family: "pds", act: (*Server).pdsRecording},
		airudder.TaskDetailPath:                        {family: "workflow", act: (*Server).taskDetail},
		airudder.DetailInstancesPath:                   {family: "workflow", act: (*Server).detailInstances},
		s.pdsBase + airudder.PDSQueryTaskListPath:      {family: "pds", act: (*Server).queryTaskList},
		s.pdsBase + airudder.PDSQueryTaskDetailPath:    {family: "pds", act: (*Server).queryTaskDetail},
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		// The client went away mid-request: nothing to answer, nothing carried out.
		return
	}
	req := Request{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: raw}
	rt, known := s.routes()[r.URL.Path]
	mt, _, _ := mime.ParseMediaType(req.ContentType)
	var problem string
	switch {
	case !known:
		problem = fmt.Sprintf("unknown path %q", r.URL.Path)
	case r.Method != http.MethodPost:
		problem = fmt.Sprintf("%s %s, want POST", r.Method, r.URL.Path)
	case rt.form && mt != "application/x-www-form-urlencoded":
		problem = fmt.Sprintf("%s: Content-Type %q, want a form", r.URL.Path, req.ContentType)
	case !rt.form && mt != "application/json":
		problem = fmt.Sprintf("%s: Content-Type %q, want application/json", r.URL.Path, req.ContentType)
	case rt.form:
		if req.Form, err = url.ParseQuery(string(raw)); err != nil {
			problem = fmt.Sprintf("%s: body %q is not a form: %v", r.URL.Path, raw, err)
		}
	default:
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&req.JSON); err != nil || req.JSON == nil {
			problem = fmt.Sprintf("%s: body %q is not a JSON object: %v", r.URL.Path, raw, err)
		}
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	fail := func(format string, args ...any) {
		s.t.Errorf("fake Airudder: "+format, args...)
		writeJSON(w, http.StatusBadRequest, `{"code":400,"message":"the fake refused the request"}`)
	}
	if problem != "" {
		fail("%s", problem)
		return
	}

	if rt.family == "" {
		if got := req.Authorization; got != "" {
			fail("token request carries Authorization %q", got)
			return
		}
	} else if !s.tokenValid(rt.family, req.Authorization) {
		s.refuseToken(w, rt.family)
		return
	}

	s.mu.Lock()
	var fault Fault
	if f := s.faults[r.URL.Path]; f != nil {
		s.faulted[r.URL.Path]++
		fault = f(s.faulted[r.URL.Path])
	}
	s.mu.Unlock()

	if fault.Delay > 0 && !s.wait(r.Context(), fault.Delay) {
		return
	}
	if fault.misbehaves() && !fault.Effect {
		s.misbehave(w, r, fault, http.StatusOK, "")
		return
	}
	status, body := rt.act(s, req)
	if fault.misbehaves() {
		s.misbehave(w, r, fault, status, body)
		return
	}
	writeJSON(w, status, body)
}

// wait sleeps for d unless the client or the test gives up first; it reports whether it slept in full.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
	case <-s.quit:
	}
	return false
}

// misbehave answers as fault says; status and body are the normal answer, which Truncate cuts short.
func (s *Server) misbehave(w http.ResponseWriter, r *http.Request, fault Fault, status int, body string) {
	if fault.Status != 0 {
		status, body = fault.Status, fault.Body
	}
	switch {
	case fault.Hang:
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
	case fault.Cut:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			s.t.Errorf("fake Airudder: hijack: %v", err)
			return
		}
		conn.Close()
	case fault.Truncate:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			s.t.Errorf("fake Airudder: hijack: %v", err)
			return
		}
		defer conn.Close()
		if body == "" {
			body = `{"code":200,"message":"success"}`
		}
		writeRaw(buf, status, body[:len(body)/2], len(body))
	default:
		writeJSON(w, status, body)
	}
}

// writeRaw writes an HTTP/1.1 answer that promises length bytes of body and sends partial.
func writeRaw(buf *bufio.ReadWriter, status int, partial string, length int) {
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", status, http.StatusText(status), length, partial)
	buf.Flush()
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (s *Server) tokenValid(family, authorization string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.tokens[family]
	return ts.valid != "" && authorization == "Token "+ts.valid
}

func (s *Server) refuseToken(w http.ResponseWriter, family string) {
	s.mu.Lock()
	byCode := s.unauthorizedByCode
	s.mu.Unlock()
	switch {
	case byCode && family == "pds":
		writeJSON(w, http.StatusOK, `{"code":10813,"message":"Expired user token"}`)
	case byCode:
		writeJSON(w, http.StatusOK, `{"code":401,"message":"token invalid"}`)
	default:
		// A gateway in front of Airudder may refuse the token before Airudder sees it: no envelope.
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	}
}

func (s *Server) issue(family string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.tokens[family]
	ts.issued++
	ts.valid = fmt.Sprintf("%s%d", ts.prefix, ts.issued)
	return ts.valid
}

func (s *Server) workflowAuth(req Request) (int, string) {
	if req.JSON["APPKey"] != AppKey || req.JSON["APPSecret"] != AppSecret || len(req.JSON) != 2 {
		return http.StatusOK, `{"code":401,"message":"APPKey or APPSecret error"}`
	}
	return http.StatusOK, `{"code":200,"status":"OK","message":"success","data":{"token":"` + s.issue("workflow") + `"}}`
}

func (s *Server) pdsAuth(req Request) (int, string) {
	if req.Form.Get("APPKey") != AppKey || req.Form.Get("APPSecret") != AppSecret || len(req.Form) != 2 {
		return http.StatusOK, `{"code":10301,"message":"Invalid app key"}`
	}
	return http.StatusOK, `{"code":0,"message":"successfully","body":{"token":"` + s.issue("pds") + `"}}`
}

// workflowError is the fake's answer to a request it refuses; Airudder's own code for a malformed
// request is not known, so it says 400 in an envelope at HTTP 200.
func workflowError(format string, args ...any) (int, string) {
	msg, _ := json.Marshal(fmt.Sprintf(format, args...))
	return http.StatusOK, `{"code":400,"status":"ERROR","message":` + string(msg) + `}`
}

func pdsError(code int, message string) (int, string) {
	return http.StatusOK, fmt.Sprintf(`{"code":%d,"message":%q}`, code, message)
}

// createInstanceFields are the members of createinstance's body (vendor text, seen).
var createInstanceFields = map[string]bool{"workflow_template_id": true, "name": true, "end_time": true,
	"workflow_template_name": true, "workflow_name": true, "auto_finish": true}

func (s *Server) createInstance(req Request) (int, string) {
	for k := range req.JSON {
		if !createInstanceFields[k] {
			return workflowError("createinstance takes no %q", k)
		}
	}
	for _, k := range []string{"workflow_template_name", "workflow_name"} {
		if v, ok := req.JSON[k]; ok {
			if _, isString := v.(string); !isString {
				return workflowError("%s must be a string, not %v", k, v)
			}
		}
	}
	var autoFinish int64
	if v, ok := req.JSON["auto_finish"]; ok {
		n, isNumber := v.(json.Number)
		i, err := n.Int64()
		if !isNumber || err != nil {
			return workflowError("auto_finish must be an integer, not %v", v)
		}
		autoFinish = i
	}
	id, ok := req.JSON["workflow_template_id"].(json.Number)
	if !ok || strings.ContainsAny(string(id), ".eE") {
		return workflowError("workflow_template_id must be an integer, not %v", req.JSON["workflow_template_id"])
	}
	templateID, err := id.Int64()
	if err != nil {
		return workflowError("workflow_template_id %s: %v", id, err)
	}
	name, _ := req.JSON["name"].(string)
	if name == "" {
		return workflowError("name is required")
	}
	endTime, _ := req.JSON["end_time"].(string)
	if _, err := time.Parse(airudder.TimeLayout, endTime); err != nil {
		return workflowError("end_time %q is not YYYY-MM-DD HH:MM:SS", req.JSON["end_time"])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.instances {
		if in.Name == name {
			return http.StatusOK, `{"code":10508,"status":"ERROR","message":"Duplicate task name"}`
		}
	}
	wf := fmt.Sprintf("wf-%d", len(s.instances)+1)
	s.instances = append(s.instances, Instance{WorkflowID: wf, TemplateID: templateID, Name: name, EndTime: endTime, AutoFinish: autoFinish})
	s.instancesMade = append(s.instancesMade, s.now())
	return http.StatusOK, `{"code":200,"status":"OK","message":"success","data":{"workflow_id":"` + wf + `"}}`
}

func (s *Server) uploadDetails(req Request) (int, string) {
	wf, _ := req.JSON["workflow_id"].(string)
	if wf == "" {
		return workflowError("workflow_id is required")
	}
	if len(req.JSON) != 2 {
		return workflowError("uploaddetails takes workflow_id and details only, not %v", req.JSON)
	}
	callees, errMsg := callees(req.JSON["details"])
	if errMsg != "" {
		return workflowError("%s", errMsg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uploads = append(s.uploads, Upload{WorkflowID: wf, Callees: callees})
	for i := range s.instances {
		if s.instances[i].WorkflowID == wf {
			s.instances[i].Callees = append(s.instances[i].Callees, callees...)
		}
	}
	s.uploadsMade = append(s.uploadsMade, s.now())
	return http.StatusOK, fmt.Sprintf(`{"code":200,"status":"OK","message":"success","data":{"accepted":%d}}`, len(callees))
}

// callees reads a details list: an array of objects with a callee and, optionally, variables whose
// values are all strings.
func callees(details any) ([]string, string) {
	list, ok := details.([]any)
	if !ok {
		return nil, fmt.Sprintf("details must be a list, not %v", details)
	}
	out := []string{}
	for i, d := range list {
		obj, _ := d.(map[string]any)
		callee, _ := obj["callee"].(string)
		if callee == "" {
			return nil, fmt.Sprintf("details[%d] has no callee", i)
		}
		for k, v := range obj {
			switch k {
			case "callee":
			case "variables":
				vars, isObject := v.(map[string]any)
				if !isObject {
					return nil, fmt.Sprintf("details[%d].variables must be an object, not %v", i, v)
				}
				for name, value := range vars {
					if _, isString := value.(string); !isString {
						return nil, fmt.Sprintf("details[%d].variables.%s must be a string, not %v", i, name, value)
					}
				}
			default:
				return nil, fmt.Sprintf("details[%d] takes callee and variables only, not %q", i, k)
			}
		}
		out = append(out, callee)
	}
	return out, ""
}

func (s *Server) cancelContact(req Request) (int, string) {
	task, _ := req.JSON["task_id"].(string)
	callee, _ := req.JSON["callee"].(string)
	if task == "" || callee == "" {
		return workflowError("task_id and callee are required")
	}
	done := s.cancel("workflow", task, []string{callee})
	list, _ := json.Marshal(done)
	return http.StatusOK, `{"code":200,"status":"OK","message":"success","data":{"cancelled":` + string(list) + `}}`
}

// pdsNumber is a number as the PDS family takes it: "+" and at most 14 digits (seen, error 10510).
var pdsNumber = regexp.MustCompile(`^\+[0-9]{1,14}$`)

func (s *Server) pdsCancel(req Request) (int, string) {
	task, _ := req.JSON["TaskID"].(string)
	if task == "" {
		return pdsError(10502, "TaskID is null")
	}
	list, _ := req.JSON["contactList"].([]any)
	if len(list) == 0 {
		return pdsError(10505, "ContactList is null")
	}
	numbers := make([]string, 0, len(list))
	for _, n := range list {
		number, _ := n.(string)
		if !pdsNumber.MatchString(number) {
			return pdsError(10510, "Incorrect phone number")
		}
		numbers = append(numbers, number)
	}
	done, _ := json.Marshal(s.cancel("pds", task, numbers))
	return http.StatusOK, `{"code":0,"message":"successfully","body":` + string(done) + `}`
}

// SetRecording makes case/recording answer link for the PDS call callid.
func (s *Server) SetRecording(callID, link string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordings[callID] = link
}

// pdsRecording answers case/recording: the link SetRecording gave for the callid, or none (an empty body,
// as Airudder's answer for a call without a recording is not known).
func (s *Server) pdsRecording(req Request) (int, string) {
	id, _ := req.JSON["callid"].(string)
	if id == "" {
		return pdsError(10502, "callid is null")
	}
	s.mu.Lock()
	link := s.recordings[id]
	s.mu.Unlock()
	if link == "" {
		return http.StatusOK, `{"code":0,"message":"successfully","body":{}}`
	}
	b, _ := json.Marshal(map[string]string{"link": link})
	return http.StatusOK, `{"code":0,"message":"successfully","body":` + string(b) + `}`
}

// cancel records numbers as cancelled in task and returns those that were not already: what Airudder
// lists as "actually cancelled".
func (s *Server) cancel(family, task string, numbers []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	done := []string{}
	for _, n := range numbers {
		c := Cancellation{Family: family, TaskID: task, Number: n}
		if !s.cancelled[c] {
			s.cancelled[c] = true
			s.cancellations = append(s.cancellations, c)
			done = append(done, n)
		}
	}
	return done
}
