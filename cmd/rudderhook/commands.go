package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rudderhook/rudderhook/api"
	"github.com/rudderhook/rudderhook/codec"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/ui"
	"github.com/rudderhook/rudderhook/worker"
	"github.com/rudderhook/rudderhook/workflows"
)

// devFlags are dev's command-line settings.
type devFlags struct {
	httpAddr, temporalAddr, uiAddr, dataDir, rulesFile string
	temporalOnly                                       bool
}

func devCmd(g *globals) *cobra.Command {
	var flags devFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on a laptop: embedded Temporal server and Web UI, worker and HTTP API",
		Long: `dev runs, in one process, a Temporal server whose state lives in a SQLite file under --data (so
workflows survive a restart), the Temporal Web UI, a worker and the HTTP API. It uses the PostgreSQL at
DATABASE_URL, creating the database and applying migrations if needed. When DATABASE_URL is not set and
nothing usable answers at its default, dev runs a private PostgreSQL of its own under --data/postgres, from
the server programs installed on this machine (or downloaded once), and keeps its data there between runs.
Ctrl-C stops it all cleanly.

With --temporal-only it runs the Temporal server (and UI) alone, for a serve and a worker started as their
own processes against it: the shape of production on a laptop, where each part can be stopped on its own.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), cfg, log, flags, os.Stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.httpAddr, "http", "127.0.0.1:8080", "address of the HTTP API")
	f.StringVar(&flags.temporalAddr, "temporal", "127.0.0.1:7233", "address of the embedded Temporal frontend (gRPC)")
	f.StringVar(&flags.uiAddr, "ui", "127.0.0.1:8233", "address of the Temporal Web UI (empty: no UI)")
	f.StringVar(&flags.dataDir, "data", ".rudderhook", "directory of the Temporal SQLite file and of the private PostgreSQL (postgres/)")
	f.StringVar(&flags.rulesFile, "rules", "", "follow-up rules file to load and watch (default $RUDDERHOOK_RULES_FILE)")
	f.BoolVar(&flags.temporalOnly, "temporal-only", false, "run only the embedded Temporal server and UI (no database, worker or API), for serve and worker run as separate processes")
	return cmd
}

// runDev runs everything until ctx ends, printing the banner to out once the API listens.
func runDev(ctx context.Context, cfg *config.Config, log *slog.Logger, flags devFlags, out io.Writer) error {
	if flags.temporalOnly {
		return runTemporalOnly(ctx, embeddedOptions{
			DataDir: flags.dataDir, FrontendAddr: flags.temporalAddr, UIAddr: flags.uiAddr, Namespace: cfg.Temporal.Namespace, Log: log,
		})
	}
	httpAddr := flags.httpAddr
	cfg.HTTPAddr = httpAddr
	warnRedialZone(cfg, log)
	loopbackOnly := allowLoopback(cfg, httpAddr)
	devOutbound(cfg)
	pg, err := devDatabase(ctx, cfg, flags.dataDir, log)
	if err != nil {
		return err
	}
	if pg != nil {
		defer func() {
			log.Info("stopping the private PostgreSQL")
			if err := pg.Stop(); err != nil {
				log.Error("could not stop the private PostgreSQL", "error", err)
			}
		}()
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := store.Migrate(ctx, db, log); err != nil {
		return err
	}

	var payloadCodec *codec.Codec
	codecEndpoint := ""
	if cfg.Temporal.PayloadKeys != "" {
		if payloadCodec, err = codec.Parse(cfg.Temporal.PayloadKeys); err != nil {
			return fmt.Errorf("RUDDERHOOK_PAYLOAD_KEYS: %w", err)
		}
		codecEndpoint = "http://" + httpAddr + "/codec"
	}
	ds, err := startEmbeddedTemporal(ctx, embeddedOptions{
		DataDir: flags.dataDir, FrontendAddr: flags.temporalAddr, UIAddr: flags.uiAddr, Namespace: cfg.Temporal.Namespace, Log: log,
		CodecEndpoint: codecEndpoint,
	})
	if err != nil {
		return err
	}
	defer ds.Stop()
	cfg.Temporal.Address = ds.FrontendAddr
	if ds.UIURL != "" {
		cfg.Temporal.UIURL = ds.UIURL
	}
	fakeAirudder := startDevAirudder(cfg, log)
	if fakeAirudder != nil {
		defer fakeAirudder.stop()
	}
	c, err := dialTemporal(ctx, cfg.Temporal, log)
	if err != nil {
		return err
	}
	defer c.Close()
	if added, err := worker.EnsureSearchAttributes(ctx, c, cfg.Temporal.Namespace); err != nil {
		return err
	} else if len(added) > 0 {
		log.Info("registered search attributes", "names", added)
	}

	sink := &api.DevSink{}
	if flags.rulesFile != "" {
		cfg.RulesFile = flags.rulesFile
	}
	sinkTargets(cfg, log)
	generated := cfg.AdminToken == ""
	if generated {
		cfg.AdminToken = randomToken()
	}
	// A laptop gets an editor of its own for the rules page, printed in the banner (never for serve).
	signIn := ""
	if len(cfg.Users) == 0 {
		signIn = ui.NewToken()
		cfg.Users = []config.User{{Name: "Developer", Role: config.RoleEditor, TokenSHA256: ui.HashToken(signIn)}}
	}
	if cfg.RecordingsBucket == "" {
		if cfg.RecordingsBucket, err = devRecordingsBucket(flags.dataDir); err != nil {
			return err
		}
	}
	stopWorker, err := runWorker(c, db, cfg, log)
	if err != nil {
		return err
	}
	defer stopWorker()

	opts := apiOptions{uiBase: cfg.Temporal.UIURL, devSink: sink}
	if payloadCodec != nil {
		opts.codec = payloadCodec.Handler([]string{ds.UIURL})
	}
	// dev keeps what serve and worker refuse (Airudder's default key, above all) and says so.
	notForProduction := cfg.ProductionProblems(config.Serve)
	opts.ready = func(addr string) {
		printBanner(out, banner{cfg: cfg, httpAddr: addr, temporal: ds, generatedToken: generated, signIn: signIn,
			loopbackOnly: loopbackOnly, privatePostgres: pg, notForProduction: notForProduction, airudder: fakeAirudder})
	}
	err = runAPI(ctx, cfg, c, db, log, opts)
	log.Info("stopping worker and Temporal server")
	return err
}

// devDatabase gives dev its PostgreSQL: DATABASE_URL when the user set it (it wins, or dev fails); the
// default URL when a server there takes it; else a private server under dataDir/postgres, whose URL it
// puts in cfg. The database is created if missing. It returns the private server, which dev stops.
func devDatabase(ctx context.Context, cfg *config.Config, dataDir string, log *slog.Logger) (privatePostgres, error) {
	err := store.EnsureDatabase(ctx, cfg.DatabaseURL)
	if err == nil || cfg.DatabaseURLSet || !errors.Is(err, store.ErrUnreachable) {
		return nil, explainDatabaseError(err)
	}
	log.Info("DATABASE_URL is not set and no PostgreSQL takes its default; starting a private one",
		"default", store.Redact(cfg.DatabaseURL), "error", err)
	pg, err := startPrivatePostgres(ctx, filepath.Join(dataDir, "postgres"), log,
		fmt.Sprintf("a server at DATABASE_URL's default, %s (DATABASE_URL is not set): %v", store.Redact(cfg.DatabaseURL), err))
	if err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	cfg.DatabaseURL = pg.URL("rudderhook")
	if err := store.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		_ = pg.Stop()
		return nil, err
	}
	return pg, nil
}

// privatePostgres is dev's own PostgreSQL server (devserver/devpostgres), for a machine where none runs.
type privatePostgres interface {
	URL(database string) string
	String() string
	Stop() error
}

// runTemporalOnly runs the embedded Temporal server until ctx ends. Its state stays in the data directory,
// so stopping and starting it again keeps every workflow.
func runTemporalOnly(ctx context.Context, opts embeddedOptions) error {
	ds, err := startEmbeddedTemporal(ctx, opts)
	if err != nil {
		return err
	}
	defer ds.Stop()
	opts.Log.Info("Temporal server running; Ctrl-C stops it", "address", ds.FrontendAddr, "namespace", cmp.Or(opts.Namespace, "default"),
		"ui", ds.UIURL, "state", ds.DBPath)
	<-ctx.Done()
	opts.Log.Info("stopping Temporal server")
	return nil
}

// allowLoopback lets every source that says neither a URL token nor an IP allowlist take callbacks from
// this machine only, when dev listens on a loopback address: then `send --kind` works for the kinds that
// carry no Sign, and nothing outside the laptop can post. Not behind trusted proxies, whose clients are
// elsewhere. It returns those sources.
func allowLoopback(cfg *config.Config, httpAddr string) []string {
	if len(cfg.TrustedProxies) > 0 { // behind a proxy (a tunnel), the client is not this machine
		return nil
	}
	if !loopbackAddr(httpAddr) {
		return nil
	}
	var names []string
	for _, name := range cfg.SourceNames() {
		if src := cfg.Sources[name]; !src.TakesUnsigned() {
			src.AllowLoopback()
			names = append(names, name)
		}
	}
	return names
}

// devRecordingsBucket is where dev archives recordings when RUDDERHOOK_RECORDINGS_BUCKET is not set: a
// directory under dev's data directory, created when first needed.
func devRecordingsBucket(dataDir string) (string, error) {
	dir, err := filepath.Abs(filepath.Join(dataDir, "recordings"))
	if err != nil {
		return "", fmt.Errorf("recordings directory: %w", err)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir), RawQuery: "create_dir=true"}).String(), nil
}

// devOutbound lets rule URLs and targets reach this machine, so that a laptop can point rules at a
// server of its own (and at dev's sink); serve and worker refuse loopback unless the configuration says
// RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK. The banner says so (outboundLine).
func devOutbound(cfg *config.Config) { cfg.OutboundAllowLoopback = true }

// outboundLine is the banner's word on where follow-ups may send.
const outboundLine = "  Outbound     rule URLs and targets may reach loopback, for local testing (dev only: serve and worker\n" +
	"               refuse it unless RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK=true)\n"

// warnOutboundLoopback says at the start of serve and worker that rule URLs may reach this machine,
// which is for local testing.
func warnOutboundLoopback(cfg *config.Config, log *slog.Logger) {
	if cfg.OutboundAllowLoopback {
		log.Warn("rule URLs and targets may reach this machine's loopback addresses (RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK): for local testing only")
	}
}

// warnRedialZone says at the start of serve, worker and dev which sources read the redial times that
// Airudder sends without a zone as UTC only because neither redial_time_zone nor AIRUDDER_TIME_ZONE is set.
func warnRedialZone(cfg *config.Config, log *slog.Logger) {
	if names := cfg.RedialZoneGuessed(); len(names) > 0 {
		log.Warn("redial times (RedailCall[].CallStartTime) carry no zone and are read as UTC: set AIRUDDER_TIME_ZONE "+
			"(the Airudder account's zone) or the source's redial_time_zone", "sources", names)
	}
}

// loopbackAddr says whether a listen address (host:port) takes connections from this machine only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// banner is what dev's banner tells: what dev made or allowed for itself.
type banner struct {
	cfg             *config.Config
	httpAddr        string
	temporal        *embeddedTemporal
	generatedToken  bool            // the admin token was generated
	signIn          string          // the Developer's sign-in token, when dev made one
	loopbackOnly    []string        // sources dev let take callbacks from this machine
	privatePostgres privatePostgres // nil: DATABASE_URL's server
	// notForProduction are the problems serve and worker would refuse this configuration for.
	notForProduction []string
	// airudder is dev's fake Airudder, when it runs one.
	airudder *devAirudder
}

// devAirudder is dev's own fake Airudder (startDevAirudder), which reconciliation of Source runs against.
type devAirudder struct {
	URL      string
	Calls    int
	Source   string
	Interval time.Duration
	stop     func()
}

// devReconcileInterval is how often dev reconciles the source its fake Airudder serves.
const devReconcileInterval = 10 * time.Minute

func printBanner(w io.Writer, b banner) {
	cfg, httpAddr, ds, generated, signIn, loopbackOnly := b.cfg, b.httpAddr, b.temporal, b.generatedToken, b.signIn, b.loopbackOnly
	source, ns := cfg.SourceNames()[0], cfg.Temporal.Namespace
	fmt.Fprintf(w, "\nrudderhook dev is running. Ctrl-C stops it.\n\n")
	fmt.Fprintf(w, "  Receiver     POST http://%s/webhooks/%s/call-completed\n", httpAddr, source)
	fmt.Fprintf(w, "               and /webhooks/%s/{kind} for %s\n", source, strings.Join(cfg.Sources[source].Routes(), ", "))
	for _, name := range loopbackOnly {
		fmt.Fprintf(w, "               source %s takes callbacks from this machine only (127.0.0.1, ::1), so that kinds without a Sign\n"+
			"               (%s) can be tried; to take them from elsewhere, %s\n",
			name, strings.Join(cfg.Sources[name].UnsignedRoutes(), ", "), cfg.Sources[name].UnsignedHint())
	}
	for _, name := range cfg.SourceNames() {
		if src := cfg.Sources[name]; !src.TakesUnsigned() {
			fmt.Fprintf(w, "               unsigned kinds (%s) answer 403 on source %s: %s\n",
				strings.Join(src.UnsignedRoutes(), ", "), name, src.UnsignedHint())
		}
	}
	fmt.Fprintf(w, "  Rules page   http://%s/ui/\n", httpAddr)
	if signIn != "" {
		fmt.Fprintf(w, "               sign in as Developer (editor): http://%s/ui/login#token=%s\n", httpAddr, signIn)
	} else {
		fmt.Fprintf(w, "               sign in with your token (users from the configuration)\n")
	}
	fmt.Fprintf(w, "  Admin API    http://%s/v1/calls\n", httpAddr)
	if ds.UIURL != "" {
		fmt.Fprintf(w, "  Temporal UI  %s/namespaces/%s/workflows\n", ds.UIURL, ns)
	}
	fmt.Fprintf(w, "  Temporal     %s (namespace %s), state in %s\n", ds.FrontendAddr, ns, ds.DBPath)
	fmt.Fprintf(w, "  PostgreSQL   %s\n", store.Redact(cfg.DatabaseURL))
	if pg := b.privatePostgres; pg != nil {
		fmt.Fprintf(w, "               %s;\n               started by dev (DATABASE_URL is not set), stopped with it\n", pg)
	}
	if cfg.RulesFile != "" {
		fmt.Fprintf(w, "  Rules        %s (reloaded when it changes)\n", cfg.RulesFile)
	}
	fmt.Fprintf(w, "  Dev sink     http://%s/dev/sink (what unconfigured targets received)\n", httpAddr)
	if cfg.RecordingsBucket != "" {
		before, _, _ := strings.Cut(cfg.RecordingsBucket, "?")
		fmt.Fprintf(w, "  Recordings   %s (archive_recording follow-ups)\n", before)
	}
	if a := b.airudder; a != nil {
		fmt.Fprintf(w, "  Airudder     a fake at %s (AIRUDDER_BASE_URL and AIRUDDER_APP_KEY are not set): re-calls and cancels go\n"+
			"               there; it holds %d calls that never came as callbacks, which reconciliation of source %s\n"+
			"               (every %s; now: rudderhook reconcile --source %s) backfills\n", a.URL, a.Calls, a.Source, a.Interval, a.Source)
	}
	if cfg.OutboundAllowLoopback {
		fmt.Fprint(w, outboundLine)
	}
	token := "$RUDDERHOOK_ADMIN_TOKEN"
	if generated {
		token = cfg.AdminToken
		fmt.Fprintf(w, "  Admin token  %s   (generated; set RUDDERHOOK_ADMIN_TOKEN to choose one)\n", token)
	} else {
		fmt.Fprintf(w, "  Admin token  from RUDDERHOOK_ADMIN_TOKEN\n")
	}
	fmt.Fprintf(w, "  Dev only     conveniences that serve and worker do not have: tokens generated when unset, the dev sink,\n"+
		"               a loopback allowlist for sources that name no token or allowlist\n")
	if len(b.notForProduction) > 0 {
		fmt.Fprintf(w, "               serve and worker would refuse this configuration:\n")
		for _, p := range b.notForProduction {
			fmt.Fprintf(w, "                 - %s\n", p)
		}
	}
	fmt.Fprintf(w, "\nTry:  rudderhook send --url http://%s/webhooks/%s/call-completed\n", httpAddr, source)
	fmt.Fprintf(w, "      curl -H \"Authorization: Bearer %s\" http://%s/v1/calls\n\n", token, httpAddr)
}

func serveCmd(g *globals) *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API (receiver and admin) against a Temporal cluster",
		Long: `serve runs the receiver (/webhooks/…), the admin API (/v1/…), health and metrics, and the relay that
hands callbacks kept in the inbox to Temporal. Run as many replicas as needed; it keeps no state.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			if httpAddr != "" {
				cfg.HTTPAddr = httpAddr
			}
			// Before anything is reached: a public or placeholder secret never serves (the admin token too).
			if err := cfg.CheckProduction(config.Serve); err != nil {
				return err
			}
			warnOutboundLoopback(cfg, log)
			warnRedialZone(cfg, log)
			conn, err := connect(ctx, cfg, log, temporalLater)
			if err != nil {
				return err
			}
			defer conn.close()
			warnMissingSearchAttributes(ctx, conn.temporal, cfg.Temporal.Namespace, log)
			return runAPI(ctx, cfg, conn.temporal, conn.db, log, apiOptions{uiBase: cfg.Temporal.UIURL})
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "", "address of the HTTP API (default $RUDDERHOOK_HTTP_ADDR or 127.0.0.1:8080)")
	return cmd
}

func workerCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run the Temporal worker that executes call workflows and their activities",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			// The worker signs webhooks with the targets' secrets and shares serve's configuration: the
			// same public or placeholder secrets keep it from starting.
			if err := cfg.CheckProduction(config.Worker); err != nil {
				return err
			}
			warnOutboundLoopback(cfg, log)
			warnRedialZone(cfg, log)
			conn, err := connect(ctx, cfg, log, temporalRequired)
			if err != nil {
				return err
			}
			defer conn.close()
			stop, err := runWorker(conn.temporal, conn.db, cfg, log)
			if err != nil {
				return err
			}
			stopDebug, err := serveDebug(cfg.DebugAddr, log)
			if err != nil {
				stop()
				return err
			}
			defer stopDebug()
			if cfg.MetricsAddr != "" {
				stopMetrics, err := serveMetrics(cfg.MetricsAddr, log)
				if err != nil {
					stop()
					return err
				}
				defer stopMetrics()
			}
			<-ctx.Done()
			log.Info("stopping worker; letting running activities finish")
			stop()
			return nil
		},
	}
}

func migrateCmd(g *globals) *cobra.Command {
	var searchAttributes bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (and, with --search-attributes, register Temporal search attributes)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			need := noTemporal
			if searchAttributes {
				need = temporalRequired
			}
			conn, err := connect(ctx, cfg, log, need)
			if err != nil {
				return err
			}
			defer conn.close()
			if err := store.Migrate(ctx, conn.db, log); err != nil {
				return err
			}
			log.Info("database is up to date")
			if !searchAttributes {
				return nil
			}
			saCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			added, err := worker.EnsureSearchAttributes(saCtx, conn.temporal, cfg.Temporal.Namespace)
			if err != nil {
				return err
			}
			log.Info("search attributes are registered", "added", added, "all", slices.Sorted(maps.Keys(workflows.SearchAttributeTypes())))
			return nil
		},
	}
	cmd.Flags().BoolVar(&searchAttributes, "search-attributes", false, "also register the custom search attributes on TEMPORAL_NAMESPACE (needs operator rights; not on Temporal Cloud)")
	return cmd
}

func codecCmd(g *globals) *cobra.Command {
	var listen string
	var origins []string
	cmd := &cobra.Command{
		Use:   "codec",
		Short: "Serve the codec endpoint that lets the Temporal Web UI show encrypted payloads",
		Long: `codec serves POST /encode and /decode with the keys of RUDDERHOOK_PAYLOAD_KEYS, for the Temporal Web UI
(Settings → Codec Server: http://127.0.0.1:8888). Run it on an operator's machine: whoever reaches it can
decrypt payloads. Only the browsers of --origin may call it.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			if cfg.Temporal.PayloadKeys == "" {
				return errors.New("RUDDERHOOK_PAYLOAD_KEYS is not set: there is nothing to decode")
			}
			c, err := codec.Parse(cfg.Temporal.PayloadKeys)
			if err != nil {
				return fmt.Errorf("RUDDERHOOK_PAYLOAD_KEYS: %w", err)
			}
			if len(origins) == 0 {
				origins = []string{strings.TrimRight(cfg.Temporal.UIURL, "/"), "https://cloud.temporal.io"}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			hs := &http.Server{Handler: c.Handler(origins), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				_ = hs.Close()
			}()
			log.Info("codec endpoint listening; set it as the Temporal UI's codec server", "url", "http://"+ln.Addr().String(), "origins", origins)
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8888", "address to serve on")
	cmd.Flags().StringSliceVar(&origins, "origin", nil, "origins of the Temporal UI allowed to call it (default $TEMPORAL_UI_URL and https://cloud.temporal.io)")
	return cmd
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
