// Package api is rudderhook's HTTP surface: the receiver that Airudder posts callbacks to
// (/webhooks/…), the operators' admin API (/v1/…, bearer token) and the health and metrics endpoints.
// Handlers parse and answer; the work is done by ingest (callbacks) and store (reads). Every error
// becomes a status and a JSON body in one function, writeError.
package api

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/ratelimit"
	"github.com/rudderhook/rudderhook/repair"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
)

// Server holds what the handlers need.
type Server struct {
	Ingest *ingest.Service
	Store  *store.Store
	// Rules are the follow-up rules in force; PUT /v1/rules saves through them.
	Rules *rulesync.InForce
	// Repair retries follow-ups and replays dead letters, one or in bulk; nil: one built from the fields
	// here (Store, Temporal, TaskQueue, Numbers, Log).
	Repair   *repair.Service
	Temporal client.Client
	Sources  map[string]*config.Source
	Log      *slog.Logger
	// TaskQueue is where a retried follow-up starts (TEMPORAL_TASK_QUEUE; empty: workflows.TaskQueue).
	TaskQueue string
	// AdminToken guards /v1; it must not be empty.
	AdminToken string
	// TrustedProxies are the networks whose X-Forwarded-For is believed for allowlists and the per-client
	// limits (of the rules page's sign-ins and of the receiver's refusals).
	TrustedProxies []string
	// Targets are the configured target names that rules may use.
	Targets map[string]bool
	// URLs is what a url: written in a rule may reach (public addresses only, unless the configuration
	// allows loopback): checked when rules are saved or tried, and again by the worker when it dials.
	URLs egress.Policy
	// DevSink, when set, is mounted at /dev/sink (only by `rudderhook dev`).
	DevSink *DevSink
	// Codec, when set, is the Temporal UI's codec endpoint, mounted at /codec (only by `rudderhook dev`;
	// elsewhere operators run `rudderhook codec` on their own machine).
	Codec http.Handler
	// RulesPage, when set, is the rules page for people (package ui), mounted at /ui/.
	RulesPage http.Handler
	// UIBase and Namespace build links to the Temporal Web UI.
	UIBase    string
	Namespace string
	// Numbers key what stands for a phone number in search attributes (config.Config.Numbers), for the
	// workflows the API starts and the call records it shows.
	Numbers airudder.NumberKeys

	// limiters are the sources' rate limits; refusals, for each source without a token that has one, the
	// same rate per client address for bodies refused before their Sign was verified (see checkRefusals).
	limiters map[string]*rate.Limiter
	refusals map[string]*ratelimit.PerClient

	readiness readiness
	// readyTTL, when set, replaces readyTTL (for tests).
	readyTTL time.Duration
}

const codeUnauthorized = "unauthorized"

var requestDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "rudderhook_http_request_duration_seconds",
	Help:    "HTTP requests by route and status.",
	Buckets: prometheus.DefBuckets,
}, []string{"route", "status"})

// Handler builds the router.
func (s *Server) Handler() (http.Handler, error) {
	s.limiters, s.refusals = map[string]*rate.Limiter{}, map[string]*ratelimit.PerClient{}
	for name, src := range s.Sources {
		if src.RatePerSecond > 0 {
			s.limiters[name] = rate.NewLimiter(rate.Limit(src.RatePerSecond), src.Burst)
			if src.Token == "" {
				s.refusals[name] = ratelimit.NewPerClient(rate.Limit(src.RatePerSecond), src.Burst)
			}
		}
	}
	if s.Repair == nil {
		s.Repair = &repair.Service{Store: s.Store, Temporal: s.Temporal, TaskQueue: s.TaskQueue, Numbers: s.Numbers, Log: s.Log}
	}
	r := gin.New()
	// A call key may hold a slash ("{TaskID}/{id}"); clients escape it as %2F and it stays one segment.
	r.UseRawPath = true
	r.UnescapePathValues = true
	r.HandleMethodNotAllowed = true
	if err := r.SetTrustedProxies(s.TrustedProxies); err != nil {
		return nil, err
	}
	r.Use(s.recoverer, s.observe)
	r.NoMethod(func(c *gin.Context) {
		s.writeError(c, newError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed here"))
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.ready)
	r.GET("/metrics", gin.WrapH(promhttp.Handler()))
	r.GET("/openapi.json", s.openAPI)

	// Each callback kind at /webhooks/{source}/{kind} and, with the source's secret token in the path,
	// /webhooks/{source}/{token}/{kind}.
	kinds := s.receiverKinds()
	for _, kind := range kinds {
		r.POST("/webhooks/:source/"+kind, s.receive(kind))
		r.POST("/webhooks/:source/:token/"+kind, s.receive(kind))
	}

	r.NoRoute(func(c *gin.Context) {
		if strings.HasPrefix(c.Request.URL.Path, "/webhooks/") {
			s.writeError(c, newError(http.StatusNotFound, "unknown_callback", "this receiver takes "+strings.Join(kinds, ", ")+
				" at /webhooks/{source}/{kind} (a generic kind where the source lists it)"))
			return
		}
		s.writeError(c, newError(http.StatusNotFound, "not_found", "no such endpoint"))
	})

	if s.Codec != nil {
		// The Temporal UI posts payloads, after a CORS preflight.
		codec := gin.WrapH(http.StripPrefix("/codec", s.Codec))
		r.POST("/codec/*op", codec)
		r.OPTIONS("/codec/*op", codec)
	}
	if s.RulesPage != nil {
		// The rules page has pages (GET) and forms and script calls (POST), nothing else.
		page := fromClient(s.RulesPage)
		r.GET("/ui/*page", page)
		r.POST("/ui/*page", page)
		r.GET("/ui", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/ui/") })
	}
	if s.DevSink != nil {
		r.POST("/dev/sink/:target", s.DevSink.receive)
		r.GET("/dev/sink", s.DevSink.list)
	}

	v1 := r.Group("/v1", s.requireAdmin)
	v1.GET("/calls", s.listCalls)
	v1.GET("/calls/:call_id", s.getCall)
	v1.GET("/calls/:call_id/:id", s.getCall) // a "{TaskID}/{id}" key sent without escaping its slash
	v1.GET("/follow-ups", s.listFollowUps)
	v1.GET("/follow-ups/:id", s.getFollowUp)
	v1.POST("/follow-ups/:id/retry", s.retryFollowUp)
	v1.POST("/follow-ups/retry", s.planRetry)
	v1.POST("/follow-ups/retry/:plan_id/run", s.runPlan(store.BulkFollowUps))
	v1.GET("/events", s.listEvents)
	v1.GET("/events/:id", s.getEvent)
	v1.GET("/inbox", s.listInbox)
	v1.GET("/inbox/status", s.inboxStatus)
	v1.POST("/inbox/:id/replay", s.replayInbox)
	v1.POST("/inbox/replay", s.planReplay)
	v1.POST("/inbox/replay/:plan_id/run", s.runPlan(store.BulkDeadLetters))
	v1.GET("/bulk/:plan_id", s.getBulk)
	v1.POST("/bulk/:plan_id/cancel", s.cancelBulk)
	v1.GET("/rules", s.getRules)
	v1.GET("/rules/versions", s.listRuleVersions)
	v1.PUT("/rules", s.putRules)
	v1.POST("/rules/dry-run", s.dryRun)
	v1.GET("/reconcile", s.listReconcile)
	v1.POST("/reconcile", s.startReconcile)
	v1.GET("/reconcile/*workflow_id", s.getReconcile) // the ID holds slashes: reconcile/{source}/{stamp}
	return r, nil
}

// fromClient hands h the request with RemoteAddr set to the client's address as ClientIP reads it through
// the trusted proxies (as chi's RealIP does): the rules page limits sign-ins per client with the same
// trust as the receiver's allowlists, and one proxy in front is not one client.
func fromClient(h http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		r := c.Request.WithContext(c.Request.Context())
		r.RemoteAddr = c.ClientIP()
		h.ServeHTTP(c.Writer, r)
	}
}

func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.Log.Error("handler panicked", "path", c.FullPath(), "panic", p)
			s.writeError(c, newError(http.StatusInternalServerError, "internal", "internal error"))
		}
	}()
	c.Next()
}

// observe logs every request and records its duration. It logs the route, not the URL, so that a
// source's ?token= never reaches a log.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	requestDuration.WithLabelValues(route, http.StatusText(status)).Observe(time.Since(start).Seconds())
	if route != "/healthz" && route != "/readyz" && route != "/metrics" {
		s.Log.Debug("http request", "method", c.Request.Method, "route", route, "status", status,
			"duration", time.Since(start), "client_ip", c.ClientIP())
	}
}

func (s *Server) requireAdmin(c *gin.Context) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(c.GetHeader("Authorization")), " ")
	if !strings.EqualFold(scheme, "Bearer") || s.AdminToken == "" ||
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.AdminToken)) != 1 {
		s.writeError(c, newError(http.StatusUnauthorized, codeUnauthorized, "send Authorization: Bearer <RUDDERHOOK_ADMIN_TOKEN>"))
		return
	}
	c.Next()
}

// readyTTL is how long an answer of /readyz is reused. The endpoint needs no authentication, so however
// many probes arrive, PostgreSQL and Temporal are asked once per readyTTL, and by one probe at a time.
const readyTTL = time.Second

// readiness is the last answer of /readyz and the one check under way.
type readiness struct {
	group singleflight.Group
	mu    sync.Mutex
	until time.Time
	last  readyAnswer
}

type readyAnswer struct {
	status int
	body   []byte
}

// fresh is the last answer while it may be reused.
func (r *readiness) fresh() (readyAnswer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, time.Now().Before(r.until)
}

// answer is the last answer if it is fresh, or the answer of one check: probes that arrive while a check
// runs wait for it and share its answer.
func (r *readiness) answer(ctx context.Context, ttl time.Duration, check func(context.Context) readyAnswer) readyAnswer {
	if ans, ok := r.fresh(); ok {
		return ans
	}
	v, _, _ := r.group.Do("ready", func() (any, error) {
		if ans, ok := r.fresh(); ok {
			return ans, nil
		}
		// The probe that started the check may hang up; the others still wait for it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		ans := check(ctx)
		r.mu.Lock()
		r.last, r.until = ans, time.Now().Add(ttl)
		r.mu.Unlock()
		return ans, nil
	})
	return v.(readyAnswer)
}

// ready reports whether this replica can make callbacks durable: it can while PostgreSQL or Temporal
// answers (with Temporal down, callbacks wait in the inbox; with PostgreSQL down, workflows wait to store
// them), so a load balancer stops sending callbacks only when neither does. The body says which answer.
// The answer is at most readyTTL old.
func (s *Server) ready(c *gin.Context) {
	ans := s.readiness.answer(c.Request.Context(), cmp.Or(s.readyTTL, readyTTL), s.checkReady)
	c.Data(ans.status, "application/json; charset=utf-8", ans.body)
}

// checkReady asks PostgreSQL and Temporal.
func (s *Server) checkReady(ctx context.Context) readyAnswer {
	// The body says only "ok" or "unreachable": errors name hosts and users, which an unauthenticated
	// caller must not learn. The log has the detail.
	checks := gin.H{"postgres": "ok", "temporal": "ok"}
	pgErr := s.Store.DB().PingContext(ctx)
	if pgErr != nil {
		checks["postgres"] = "unreachable"
		s.Log.Warn("readiness: PostgreSQL unreachable", "error", pgErr)
	}
	_, tErr := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
	if tErr != nil {
		checks["temporal"] = "unreachable"
		s.Log.Warn("readiness: Temporal unreachable", "error", tErr)
	}
	ready := pgErr == nil || tErr == nil
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	out := gin.H{"ready": ready, "degraded": pgErr != nil || tErr != nil, "checks": checks}
	if pgErr == nil {
		// How far behind the relays are: what a backlog looks like from outside.
		if st, err := s.Store.InboxStatus(ctx); err == nil {
			out["inbox"] = gin.H{"pending": st.Pending, "dead": st.Dead, "oldest_pending_age_seconds": st.OldestAge(time.Now()).Seconds()}
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		s.Log.Error("readiness: encode the answer", "error", err)
		return readyAnswer{status: http.StatusInternalServerError, body: []byte(`{"ready": false}`)}
	}
	return readyAnswer{status: status, body: body}
}
