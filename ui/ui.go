// Package ui is the rules page at /ui/: where the people who decide follow-ups (a collections lead, an
// operations analyst) see the rules in force as sentences and what each did in the last days, change them
// in a form without YAML, see what a draft would have done to last week's calls, switch it on with a
// reason, and restore an earlier version.
//
// People sign in with their own token (config.User, stored hashed) and get a signed, HttpOnly,
// SameSite=Strict session cookie; every change needs the session's CSRF token and passes Go's
// cross-origin protection. Viewers see; editors change. Pages are Go templates and one plain script,
// embedded in the binary, so the page works without an internet connection.
//
// It is HTTP for people, beside api (HTTP for machines): it imports the domain packages, store,
// rules/rulesync (the one way rules change), rules/dryrun and repair (an editor's bulk retry of failed
// follow-ups, repair.go), and cmd mounts it into the API's router.
package ui

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/ratelimit"
	"github.com/rudderhook/rudderhook/repair"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/dryrun"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server serves the rules page.
type Server struct {
	Store *store.Store
	// Rules are the rules in force; saving goes through them, as for the API and the rules file.
	Rules *rulesync.InForce
	// Targets are the configured target names (their URLs and secrets stay in the configuration).
	Targets map[string]bool
	// URLs is what a url: written in a rule may reach, checked as the page's drafts are (see rules.Options).
	URLs  egress.Policy
	Users []config.User
	// SessionKey signs session cookies; empty makes a random one (sessions end with the process).
	SessionKey string
	SessionTTL time.Duration
	Log        *slog.Logger
	// Now is the clock (time.Now when nil), for tests.
	Now func() time.Time
	// Repair retries follow-ups in bulk (the repair page); nil: the page only says it is not available.
	Repair *repair.Service
	// Checks bounds the work one person's builds and dry runs make (zero: the defaults; see checks.go).
	Checks CheckLimit

	key   []byte
	pages map[string]*template.Template
	// logins is every sign-in attempt's bucket, loginsByClient each client address's, taken first: one
	// client that floods is refused on its own before it can spend the budget of everyone else.
	logins         *rate.Limiter
	loginsByClient *ratelimit.PerClient
	checks         *checks
}

// Handler builds the page's routes, all under /ui/.
func (s *Server) Handler() (http.Handler, error) {
	if s.SessionKey != "" {
		sum := sha256.Sum256([]byte(s.SessionKey))
		s.key = sum[:]
	} else {
		s.key = make([]byte, 32)
		_, _ = rand.Read(s.key)
	}
	if s.SessionTTL <= 0 {
		s.SessionTTL = 12 * time.Hour
	}
	// Tokens are long and random: these only slow a flood. A person who mistypes has 5 tries at once,
	// then one every 2 seconds; all clients together 10 a second.
	s.logins = rate.NewLimiter(rate.Limit(10), 20)
	s.loginsByClient = ratelimit.NewPerClient(rate.Limit(0.5), 5)
	s.checks = newChecks(s.Checks)
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /ui/login", s.loginPage)
	mux.HandleFunc("POST /ui/login", s.login)
	mux.HandleFunc("POST /ui/logout", s.guard(anyone, s.logout))
	mux.HandleFunc("GET /ui/{$}", s.guard(anyone, s.overview))
	mux.HandleFunc("GET /ui/edit", s.guard(anyone, s.editor))
	mux.HandleFunc("GET /ui/history", s.guard(anyone, s.history))
	mux.HandleFunc("POST /ui/history/{version}/restore", s.guard(editors, s.restore))
	mux.HandleFunc("POST /ui/api/build", s.guard(anyone, s.checked(buildCost, s.build)))
	mux.HandleFunc("POST /ui/api/dry-run", s.guard(anyone, s.checked(dryRunCost, s.fewDryRuns(s.dryRun))))
	mux.HandleFunc("POST /ui/api/save", s.guard(editors, s.save))
	mux.HandleFunc("GET "+repairPath, s.guard(anyone, s.repairView))
	mux.HandleFunc("POST "+repairPath+"/plan", s.guard(editors, s.repairPlan))
	mux.HandleFunc("POST "+repairPath+"/run", s.guard(editors, s.repairRun))
	mux.HandleFunc("POST "+repairPath+"/cancel", s.guard(editors, s.repairCancel))
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "there is no such page")
	})
	return secured(http.NewCrossOriginProtection().Handler(mux)), nil
}

// secured adds the headers every page carries: only this page's own scripts and styles, no framing, no
// caching of pages that show the rules.
func secured(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// pageData is what every page's template sees.
type pageData struct {
	Title  string
	User   *user
	Nav    string
	Next   string
	Error  string
	Notice string
	// Page is the page's own data.
	Page any
}

// CSRF is the token a form of the page posts back.
func (d pageData) CSRF() string {
	if d.User == nil {
		return ""
	}
	return d.User.csrf
}

var funcs = template.FuncMap{
	"when":   func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
	"origin": originLabel,
	"deref": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
	"json": func(v any) (template.JS, error) {
		b, err := json.Marshal(v)
		return template.JS(b), err
	},
}

func (s *Server) parseTemplates() error {
	s.pages = map[string]*template.Template{}
	for _, name := range []string{"login", "overview", "editor", "history", "repair", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("page %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// render writes a page; a template that fails is written as a plain error, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data pageData) {
	if data.User == nil {
		data.User = userOf(r.Context())
	}
	var b bytes.Buffer
	if err := s.pages[page].Execute(&b, data); err != nil {
		s.Log.Error("render page", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// fail answers a refused request: JSON for the page's own requests, a page for a person.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/ui/api/") {
		writeJSON(w, status, errorJSON{Error: msg})
		return
	}
	s.render(w, r, status, "error", pageData{Title: http.StatusText(status), Error: msg})
}

type errorJSON struct {
	Error    string          `json:"error"`
	Problems []rules.Located `json:"problems,omitempty"`
}

// failErr answers an error of the work behind a request: what the caller may know, and the rest in the
// log only.
func (s *Server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var refused *rules.Error
	switch {
	case errors.As(err, &refused):
		if strings.HasPrefix(r.URL.Path, "/ui/api/") {
			writeJSON(w, http.StatusUnprocessableEntity, errorJSON{Error: "the rules have problems", Problems: rules.Locate(nil, refused.Problems)})
			return
		}
		s.fail(w, r, http.StatusUnprocessableEntity, refused.Error())
	case errors.Is(err, dryrun.ErrTooLong):
		s.fail(w, r, http.StatusUnprocessableEntity, "the draft took longer than "+dryrun.Timeout.String()+
			" on these calls: try a shorter period, or look for a template or condition that does much work")
	case errors.Is(err, store.ErrConflict):
		s.fail(w, r, http.StatusConflict, "someone switched on other rules since you opened this page: reload it to see them, then make your change again")
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "there is no such version")
	default:
		s.Log.Error("rules page request failed", "path", r.URL.Path, "error", err)
		s.fail(w, r, http.StatusInternalServerError, "something went wrong on our side; try again, and tell whoever runs rudderhook if it persists")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// maxBody is the largest request the page sends: a rules document and a little more.
const maxBody = 2 << 20

// maxLoginBody is the largest sign-in form: a token and where to go next.
const maxLoginBody = 16 << 10

func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the request is not what the page sends: %w", err)
	}
	return nil
}
