package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/api"
	"github.com/rudderhook/rudderhook/codec"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/inbox"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/repair"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/ui"
	"github.com/rudderhook/rudderhook/worker"
	"github.com/rudderhook/rudderhook/workflows"
)

// connection is what a command works with: the database and, when asked for, Temporal.
type connection struct {
	db       *sqlx.DB
	temporal client.Client
}

// temporalNeed says what a command needs of Temporal at start.
type temporalNeed int

const (
	noTemporal       temporalNeed = iota
	temporalRequired              // fail when it cannot be reached (worker, migrate)
	temporalLater                 // start anyway and connect when it is back (serve: the inbox takes callbacks meanwhile)
)

// connect opens the database and connects to Temporal as the command needs.
func connect(ctx context.Context, cfg *config.Config, log *slog.Logger, need temporalNeed) (*connection, error) {
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	conn := &connection{db: db}
	if need == noTemporal {
		return conn, nil
	}
	if conn.temporal, err = dialTemporal(ctx, cfg.Temporal, log); err != nil && need == temporalLater {
		log.Error("Temporal cannot be reached: callbacks are kept in the PostgreSQL inbox until it can", "error", err)
		var opts client.Options
		if opts, err = temporalOptions(cfg.Temporal, log); err == nil {
			conn.temporal, err = client.NewLazyClient(opts)
		}
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return conn, nil
}

func (c *connection) close() {
	if c.temporal != nil {
		c.temporal.Close()
	}
	_ = c.db.Close()
}

// openDatabase connects to PostgreSQL.
func openDatabase(ctx context.Context, cfg *config.Config) (*sqlx.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL)
	return db, explainDatabaseError(err)
}

// explainDatabaseError says what to do when PostgreSQL is not there at all.
func explainDatabaseError(err error) error {
	if errors.Is(err, store.ErrUnreachable) {
		return fmt.Errorf("%w\n\nrudderhook needs PostgreSQL. Start the local one (Debian/Ubuntu: "+
			"sudo pg_ctlcluster 15 main start) or point DATABASE_URL at another, e.g.\n"+
			"  DATABASE_URL=postgres://user:pass@host:5432/rudderhook?sslmode=require", err)
	}
	return err
}

// temporalOptions are the client options for a Temporal cluster or Temporal Cloud.
func temporalOptions(cfg config.Temporal, log *slog.Logger) (client.Options, error) {
	opts := client.Options{
		HostPort:  cfg.Address,
		Namespace: cfg.Namespace,
		Logger:    sdklog.NewStructuredLogger(log.With("component", "temporal-sdk")),
	}
	if cfg.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.APIKey)
	}
	if cfg.PayloadKeys != "" {
		c, err := codec.Parse(cfg.PayloadKeys)
		if err != nil {
			return opts, fmt.Errorf("RUDDERHOOK_PAYLOAD_KEYS: %w", err)
		}
		c.Apply(&opts)
	}
	if cfg.TLS || cfg.APIKey != "" || cfg.TLSCertFile != "" || cfg.TLSCAFile != "" {
		tc := &tls.Config{ServerName: cfg.TLSServerName, MinVersion: tls.VersionTLS12}
		if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
			cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
			if err != nil {
				return opts, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		if cfg.TLSCAFile != "" {
			pem, err := os.ReadFile(cfg.TLSCAFile)
			if err != nil {
				return opts, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return opts, fmt.Errorf("TEMPORAL_TLS_CA: no certificate in %s", cfg.TLSCAFile)
			}
			tc.RootCAs = pool
		}
		opts.ConnectionOptions.TLS = tc
	}
	return opts, nil
}

// dialTemporal connects to Temporal, saying where it tried when it cannot.
func dialTemporal(ctx context.Context, cfg config.Temporal, log *slog.Logger) (client.Client, error) {
	opts, err := temporalOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w\n\nSet TEMPORAL_ADDRESS and "+
			"TEMPORAL_NAMESPACE (and TEMPORAL_API_KEY or TEMPORAL_TLS_* for Temporal Cloud), or run `rudderhook dev`",
			cfg.Address, cfg.Namespace, err)
	}
	return c, nil
}

// warnMissingSearchAttributes says loudly, at start, what would otherwise show only as every callback
// going to the inbox.
func warnMissingSearchAttributes(ctx context.Context, c client.Client, namespace string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	missing, err := worker.MissingSearchAttributes(ctx, c, namespace)
	switch {
	case err != nil:
		log.Warn("could not check the namespace's search attributes", "namespace", namespace, "error", err)
	case len(missing) > 0:
		log.Error("the namespace lacks search attributes that the workflows carry: Temporal will refuse to start them "+
			"and callbacks will wait in the inbox. Run `rudderhook migrate --search-attributes`, or on Temporal Cloud create them "+
			"(type Keyword) with tcld or the Cloud UI", "namespace", namespace, "missing", slices.Sorted(maps.Keys(missing)))
	}
}

// runWorker starts a worker and returns a function that stops it, letting running activities finish.
func runWorker(c client.Client, db *sqlx.DB, cfg *config.Config, log *slog.Logger) (stop func(), err error) {
	st := store.New(db)
	acts := activities.New(st, cfg, log.With("component", "activities"))
	if err := startsSubjects(acts, c, cfg, log); err != nil {
		return nil, err
	}
	if cfg.RecordingsBucket != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		acts.Recordings, err = activities.OpenRecordings(ctx, cfg.RecordingsBucket, cfg.RecordingsMaxBytes)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("RUDDERHOOK_RECORDINGS_BUCKET: %w", err)
		}
	}
	acts.Retrier = &repair.Service{Store: acts.Store, Temporal: c, TaskQueue: cfg.Temporal.TaskQueue, Numbers: cfg.SearchNumbers(),
		Log: log.With("component", "repair")}
	warnUnconfigured(acts, log)
	w := worker.New(c, cfg.Temporal.TaskQueue, acts, sdkworker.Options{WorkerStopTimeout: 15 * time.Second})
	if err := w.Start(); err != nil {
		if acts.Recordings != nil {
			_ = acts.Recordings.Close()
		}
		return nil, fmt.Errorf("start worker: %w", err)
	}
	log.Info("worker started", "task_queue", workflows.TaskQueueOr(cfg.Temporal.TaskQueue))
	keepSchedules(c, cfg, log)
	countCtx, stopCounting := context.WithCancel(context.Background())
	go activities.CountFollowUps(countCtx, acts.Store, 30*time.Second, log.With("component", "metrics"))
	return func() {
		stopCounting()
		w.Stop()
		if acts.Recordings != nil {
			_ = acts.Recordings.Close()
		}
	}, nil
}

// warnUnconfigured says at start what the rules in force will need that this worker lacks, and which
// targets it will refuse to send to, rather than at the first follow-up that fails for it.
func warnUnconfigured(acts *activities.Activities, log *slog.Logger) {
	for _, name := range slices.Sorted(maps.Keys(acts.Targets)) {
		t := acts.Targets[name]
		if err := t.Policy(acts.RuleURLs).CheckURL(t.URL); err != nil {
			log.Warn("a target's URL names an address it may not reach: its follow-ups will fail (a private network needs allow_private: true)",
				"target", name, "reason", err.Error())
		}
	}
	if acts.Recordings == nil && len(acts.ArchiveSources) > 0 {
		log.Warn("sources archive every recording (archive_recordings), but RUDDERHOOK_RECORDINGS_BUCKET is not set: those follow-ups will fail",
			"sources", slices.Sorted(maps.Keys(acts.ArchiveSources)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	set, err := acts.Rules.Current(ctx)
	if err != nil || set == nil {
		return
	}
	for _, r := range set.Rules {
		for _, a := range r.Actions {
			if a.Target != "" && acts.Targets[a.Target] == nil {
				log.Warn("the rules in force name a target this worker has no URL for: its follow-ups will fail",
					"rule", r.ID, "action", a.Name, "target", a.Target, "rule_version", set.Version)
			}
			if a.Type == rules.TypeArchiveRecording && acts.Recordings == nil {
				log.Warn("the rules in force archive recordings, but RUDDERHOOK_RECORDINGS_BUCKET is not set: those follow-ups will fail",
					"rule", r.ID, "action", a.Name, "rule_version", set.Version)
			}
			if (a.Type == rules.TypeAirudderRecall || a.Type == rules.TypeAirudderCancelContact) && !acts.Airudder.Configured() {
				log.Warn("the rules in force call Airudder's API, but AIRUDDER_APP_KEY and AIRUDDER_APP_SECRET are not set: those follow-ups will fail",
					"rule", r.ID, "action", a.Name, "type", a.Type, "rule_version", set.Version)
			}
		}
	}
}

// serveMetrics serves /metrics and /healthz for a process without the HTTP API (the worker), so it can
// be scraped and probed.
func serveMetrics(addr string, log *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	return serveSide(addr, "RUDDERHOOK_METRICS_ADDR", "metrics", mux, log)
}

// serveDebug serves Go's profiler (/debug/pprof/) on addr, when it is set (RUDDERHOOK_DEBUG_ADDR), on a
// listener of its own: profiles hold nothing secret but cost CPU, so they are never on the API's address.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveSide(addr, "RUDDERHOOK_DEBUG_ADDR", "profiler", mux, log)
}

// serveSide serves h on a listener of its own at addr (set by the variable env) until stop.
func serveSide(addr, env, what string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (%s): %w", addr, env, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info(what+" listening", "addr", ln.Addr().String())
	return func() { _ = hs.Close() }, nil
}

// apiOptions are what differs between `serve` and `dev` in the HTTP API.
type apiOptions struct {
	uiBase  string
	devSink *api.DevSink
	codec   http.Handler
	ready   func(addr string) // called once the listener is open
}

// runAPI serves the HTTP API, the inbox relay and the rules file watcher until ctx ends, then drains
// in-flight requests for up to cfg.ShutdownGrace.
func runAPI(ctx context.Context, cfg *config.Config, c client.Client, db *sqlx.DB, log *slog.Logger, opts apiOptions) (err error) {
	st := store.New(db)
	// Workflow IDs hash phone numbers with the installation's key: the same on every replica and restart.
	idKey, err := st.InstallationKey(ctx, store.KeyNumberIDs)
	if err != nil {
		return fmt.Errorf("%w (has `rudderhook migrate` been run?)", err)
	}
	cfg.UseNumberKeys(idKey)
	if cfg.PIIKey == "" {
		log.Info("RUDDERHOOK_PII_KEY is not set: the CalleeNumber search attribute holds phone numbers as they are, for whoever reads Temporal")
	}
	inForce := rulesync.New(st)
	svc := &ingest.Service{Temporal: c, Store: st, Sources: cfg.Sources, Log: log.With("component", "ingest"), Parallelism: 16, TaskQueue: cfg.Temporal.TaskQueue}
	relay := svc.UseInbox(inbox.Options{Concurrency: cfg.RelayConcurrency, MaxAttempts: cfg.InboxMaxAttempts, MaxAge: cfg.InboxMaxAge,
		Batch: &inbox.BatchOptions{}, Log: log.With("component", "relay")})
	defer relay.Close() // after the HTTP server drained: commits what the last requests handed over
	ingest.ExportSources(cfg.SourceNames())
	fix := &repair.Service{Store: st, Temporal: c, TaskQueue: cfg.Temporal.TaskQueue, Numbers: cfg.Numbers, Log: log.With("component", "repair")}
	srv := &api.Server{
		Ingest: svc, Store: st, Rules: inForce, Repair: fix, Temporal: c, Sources: cfg.Sources, Log: log.With("component", "api"),
		TaskQueue: cfg.Temporal.TaskQueue, AdminToken: cfg.AdminToken, TrustedProxies: cfg.TrustedProxies, UIBase: opts.uiBase, Namespace: cfg.Temporal.Namespace,
		Targets: cfg.TargetNames(), URLs: cfg.RuleURLs(), DevSink: opts.devSink, Codec: opts.codec, Numbers: cfg.Numbers,
	}
	page := &ui.Server{
		Store: st, Rules: inForce, Targets: cfg.TargetNames(), URLs: cfg.RuleURLs(), Users: cfg.Users, SessionKey: cfg.SessionKey,
		SessionTTL: cfg.SessionTTL, Log: log.With("component", "ui"), Repair: fix,
	}
	if srv.RulesPage, err = page.Handler(); err != nil {
		return err
	}
	if len(cfg.Users) == 0 {
		log.Warn("nobody can sign in to the rules page (/ui/): no users are configured; add them with `rudderhook users add`")
	} else if cfg.SessionKey == "" {
		log.Info("RUDDERHOOK_SESSION_KEY is not set: sign-ins to the rules page last as long as this process, and replicas do not share them")
	}
	handler, err := srv.Handler()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (--http / RUDDERHOOK_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	stopDebug, err := serveDebug(cfg.DebugAddr, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stopDebug()

	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wake := inbox.Listen(relayCtx, cfg.DatabaseURL, log.With("component", "relay"))
	wg.Go(func() { relay.Run(relayCtx, 5*time.Second, wake) })
	if cfg.RulesFile != "" {
		rf := &rulesync.File{Path: cfg.RulesFile, Rules: inForce, Options: rules.Options{Targets: cfg.TargetNames(), URLs: cfg.RuleURLs()},
			Log: log.With("component", "rules")}
		rf.Load(ctx)
		wg.Go(func() { rf.Watch(relayCtx, 5*time.Second) })
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("HTTP API listening", "addr", ln.Addr().String())
	if opts.ready != nil {
		opts.ready(ln.Addr().String())
	}

	select {
	case err := <-errc:
		stopRelay()
		wg.Wait()
		return fmt.Errorf("HTTP server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down HTTP API; draining in-flight requests", "grace", cfg.ShutdownGrace)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	err = hs.Shutdown(shutdownCtx)
	stopRelay()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("drain HTTP requests: %w", err)
	}
	return nil
}
