package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/config"
)

// sessionCookie holds a signed session: who signed in, until when.
const sessionCookie = "rudderhook_session"

// session is what the cookie says, signed with the session key. It names the user and a prefix of their
// token's hash, so a user removed from the configuration, or given a new token, is signed out; the role
// is read from the configuration on every request, so a change of role takes effect at once.
type session struct {
	Name    string `json:"n"`
	Token   string `json:"h"` // the first 16 hex digits of the token's SHA-256
	Expires int64  `json:"e"`
	ID      string `json:"s"` // random: the CSRF token is derived from it
}

// user is who is signed in for a request.
type user struct {
	Name string
	Role string
	csrf string
}

func (u *user) CanEdit() bool { return u != nil && u.Role == config.RoleEditor }

// HashToken is the hex SHA-256 of a sign-in token, as the configuration keeps it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken makes a random sign-in token.
func NewToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "rh_" + base64.RawURLEncoding.EncodeToString(b)
}

// findUser is the configured user whose token this is, comparing every hash in constant time.
func (s *Server) findUser(token string) *config.User {
	sum := []byte(HashToken(strings.TrimSpace(token)))
	var found *config.User
	for i := range s.Users {
		if subtle.ConstantTimeCompare(sum, []byte(s.Users[i].TokenSHA256)) == 1 {
			found = &s.Users[i]
		}
	}
	return found
}

func (s *Server) sign(payload []byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue sets the session cookie for a user who has just signed in.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, u *config.User) {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	sess := session{Name: u.Name, Token: u.TokenSHA256[:16], Expires: s.now().Add(s.SessionTTL).Unix(), ID: hex.EncodeToString(id)}
	payload, _ := json.Marshal(sess)
	value := base64.RawURLEncoding.EncodeToString(payload) + "." + s.sign(payload)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/ui/", MaxAge: int(s.SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
}

// secure says whether the browser reached us over TLS, directly or through a proxy that says so: then the
// cookie is never sent over plain HTTP. (A forged header only keeps the cookie from its own sender.)
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/ui/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure(r)})
}

// current is the signed-in user of a request, or nil.
func (s *Server) current(r *http.Request) *user {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	enc, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !hmac.Equal([]byte(sig), []byte(s.sign(payload))) {
		return nil
	}
	var sess session
	if json.Unmarshal(payload, &sess) != nil || s.now().Unix() >= sess.Expires {
		return nil
	}
	for _, u := range s.Users {
		if u.Name == sess.Name && strings.HasPrefix(u.TokenSHA256, sess.Token) && len(sess.Token) == 16 {
			return &user{Name: u.Name, Role: u.Role, csrf: s.sign([]byte("csrf\x00" + sess.ID))}
		}
	}
	return nil
}

type userKey struct{}

func userOf(ctx context.Context) *user {
	u, _ := ctx.Value(userKey{}).(*user)
	return u
}

// access is who may use a handler.
type access int

const (
	anyone  access = iota // signed in, any role
	editors               // signed in as an editor
)

// guard lets a request through to h only when someone is signed in (as an editor, for editors) and, for
// anything but GET and HEAD, only with the session's CSRF token (form field csrf, or X-CSRF-Token for the
// page's own requests). Pages send people to sign in; the page's JSON endpoints answer 401.
func (s *Server) guard(who access, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := s.current(r)
		api := strings.HasPrefix(r.URL.Path, "/ui/api/")
		if u == nil {
			if api || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
				s.fail(w, r, http.StatusUnauthorized, "sign in first: your session has ended")
				return
			}
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.PostFormValue("csrf")
			}
			if !hmac.Equal([]byte(token), []byte(u.csrf)) {
				s.fail(w, r, http.StatusForbidden, "this form has expired: reload the page and try again")
				return
			}
		}
		if who == editors && !u.CanEdit() {
			s.fail(w, r, http.StatusForbidden, "only editors may change the rules or retry follow-ups; you are signed in as a viewer")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	}
}

// loginPage is GET /ui/login.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", pageData{Title: "Sign in", Next: safeNext(r.URL.Query().Get("next"))})
}

// login is POST /ui/login: a configured token signs its user in.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	// Before reading anything of the request; the client's own bucket first, so that a client refused
	// there takes nothing from everyone's.
	if !s.loginsByClient.Allow(clientAddr(r)) || !s.logins.Allow() {
		s.render(w, r, http.StatusTooManyRequests, "login", pageData{Title: "Sign in", Next: "/ui/", Error: "Too many attempts: wait a few seconds and try again."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	next := safeNext(r.PostFormValue("next"))
	u := s.findUser(r.PostFormValue("token"))
	if u == nil {
		s.Log.Info("sign-in refused: unknown token", "client_ip", clientAddr(r))
		s.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Sign in", Next: next, Error: "That token is not valid. Ask whoever runs rudderhook for yours."})
		return
	}
	s.issue(w, r, u)
	s.Log.Info("signed in to the rules page", "user", u.Name, "role", u.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// clientAddr is the address of whoever sent r. The API's router, which mounts this page, sets RemoteAddr
// to the client's address as it reads it through the trusted proxies (RUDDERHOOK_TRUSTED_PROXIES), the
// same reading as the receiver's allowlists; served on its own, RemoteAddr is the peer's "host:port".
func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// logout is POST /ui/logout.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	clearSession(w, r)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// safeNext keeps a redirect after sign-in on this page: a path under /ui/, never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/ui/"
	}
	return next
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
