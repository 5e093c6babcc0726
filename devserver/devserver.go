// Package devserver runs a Temporal server and its Web UI inside the rudderhook process, for `rudderhook
// dev` on a laptop and for the integration tests. State lives in one SQLite file (WAL mode), so workflows
// survive a restart; an in-memory mode serves tests.
//
// It is the only package that links the Temporal server: keep it out of everything production runs
// besides the binary's dev command.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/primitives/timestamp"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"

	"github.com/rudderhook/rudderhook/workflows"
)

// Options configure the embedded server.
type Options struct {
	// DataDir holds the SQLite file (temporal.db). Empty means in memory: state ends with the process.
	DataDir string
	// FrontendAddr is the gRPC address clients dial, e.g. 127.0.0.1:7233. Port 0 picks a free one.
	FrontendAddr string
	// UIAddr is where the Web UI listens, e.g. 127.0.0.1:8233. Empty means no UI.
	UIAddr    string
	Namespace string
	// CodecEndpoint, when set, is where the UI decodes encrypted payloads.
	CodecEndpoint string
	// Retention is how long closed workflows are kept; zero means seven days.
	Retention time.Duration
	Log       *slog.Logger
}

// Server is a running embedded Temporal server.
type Server struct {
	temporal     temporal.Server
	ui           *uiserver.Server
	FrontendAddr string
	UIURL        string
	DBPath       string
	stopping     atomic.Bool
}

const clusterName = "active"

// startMu makes servers in one process (parallel tests) pick and bind their ports one at a time.
var startMu sync.Mutex

// Start starts the server (and UI) and returns once the frontend accepts connections. A port picked for
// an internal service can be taken by someone else before the server binds it; Start then tries again
// with new ports.
func Start(ctx context.Context, opts Options) (*Server, error) {
	startMu.Lock()
	defer startMu.Unlock()
	var err error
	for range 3 {
		var s *Server
		if s, err = start(ctx, opts); err == nil {
			return s, nil
		}
		if !portTaken(err) {
			return nil, err
		}
		opts.Log.Warn("Temporal server did not start; trying again with other ports", "error", err)
	}
	return nil, err
}

// portTaken says whether a failed start may be tried again with other ports: the server's Fatal (which it
// calls when a service cannot bind) or a bind refused while the server was being built. The latter comes
// through fx's error chain, which does not always keep the syscall error, hence the text as a fallback.
func portTaken(err error) bool {
	var fatal fatalError
	return errors.As(err, &fatal) || errors.Is(err, syscall.EADDRINUSE) ||
		strings.Contains(err.Error(), "address already in use")
}

func start(ctx context.Context, opts Options) (s *Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			fatal, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			s, err = nil, fatal
		}
	}()
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Retention == 0 {
		opts.Retention = 7 * 24 * time.Hour
	}
	host, frontendPort, err := resolvePort(opts.FrontendAddr, "Temporal frontend (--temporal)")
	if err != nil {
		return nil, err
	}
	var uiHost string
	var uiPort int
	if opts.UIAddr != "" {
		if uiHost, uiPort, err = resolvePort(opts.UIAddr, "Temporal Web UI (--ui)"); err != nil {
			return nil, err
		}
	}
	s = &Server{FrontendAddr: net.JoinHostPort(host, strconv.Itoa(frontendPort))}
	sqlCfg, err := s.openPersistence(opts)
	if err != nil {
		return nil, err
	}
	if err := createNamespace(sqlCfg, opts); err != nil {
		return nil, err
	}
	if err := s.startTemporal(ctx, host, frontendPort, sqlCfg, opts.Log); err != nil {
		return nil, err
	}
	if opts.UIAddr != "" {
		if err := s.startUI(ctx, uiHost, uiPort, opts); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// openPersistence is the SQLite configuration: a shared in-memory database, or a file in WAL mode whose
// schema is created on first start.
func (s *Server) openPersistence(opts Options) (*config.SQL, error) {
	sqlCfg := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}}
	if opts.DataDir == "" {
		sqlCfg.DatabaseName = "rudderhook-" + uuid.NewString()
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
		return sqlCfg, nil // memory mode sets its schema up itself
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s.DBPath = filepath.Join(dir, "temporal.db")
	sqlCfg.DatabaseName = s.DBPath
	sqlCfg.ConnectAttributes["mode"] = "rwc"
	sqlCfg.ConnectAttributes["journal_mode"] = "wal" // survives kill -9
	sqlCfg.ConnectAttributes["synchronous"] = "2"
	if _, err := os.Stat(s.DBPath); errors.Is(err, os.ErrNotExist) {
		if err := sqlite.SetupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("create Temporal schema in %s: %w", s.DBPath, err)
		}
	}
	return sqlCfg, nil
}

// createNamespace creates the namespace with rudderhook's search attributes; a no-op when it exists.
func createNamespace(sqlCfg *config.SQL, opts Options) error {
	ns, err := sqlite.NewNamespaceConfig(clusterName, opts.Namespace, false, workflows.SearchAttributeTypes())
	if err != nil {
		return fmt.Errorf("namespace config: %w", err)
	}
	ns.Detail.Config.Retention = timestamp.DurationPtr(opts.Retention)
	if err := sqlite.CreateNamespaces(sqlCfg, ns); err != nil {
		return fmt.Errorf("create namespace %s: %w", opts.Namespace, err)
	}
	return nil
}

// startTemporal starts the server's services and waits until the frontend accepts connections.
func (s *Server) startTemporal(ctx context.Context, host string, frontendPort int, sqlCfg *config.SQL, log *slog.Logger) error {
	cfg, hosts, err := serverConfig(host, frontendPort, sqlCfg)
	if err != nil {
		return err
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		// Static hosts: with ringpop, a restart on an existing file waits ~45 s for the previous run's hosts.
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(newLogger(log.With("component", "temporal"), slog.LevelWarn, &s.stopping)),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// Search attributes added through the operator API are usable at once.
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		}),
	)
	if err != nil {
		return fmt.Errorf("create Temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start Temporal server: %w", err)
	}
	s.temporal = srv
	if err := waitForPort(ctx, s.FrontendAddr); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// startUI starts the Web UI in front of the frontend and waits until it listens.
func (s *Server) startUI(ctx context.Context, host string, port int, opts Options) error {
	s.ui = uiserver.NewServer(server_options.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: s.FrontendAddr,
		EnableUI:            true,
		DefaultNamespace:    opts.Namespace,
		HideLogs:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		Codec:               uiconfig.Codec{Endpoint: opts.CodecEndpoint},
	}))
	go func() { _ = s.ui.Start() }()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	s.UIURL = "http://" + addr
	return waitForPort(ctx, addr)
}

// Stop stops the UI and the server; the SQLite file keeps their state.
func (s *Server) Stop() {
	s.stopping.Store(true)
	if s.ui != nil {
		s.ui.Stop()
	}
	if s.temporal != nil {
		_ = s.temporal.Stop()
	}
}

func serverConfig(host string, frontendPort int, sqlCfg *config.SQL) (*config.Config, map[primitives.ServiceName]static.Hosts, error) {
	services := map[string]config.Service{}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for _, name := range []primitives.ServiceName{primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		port := frontendPort
		if name != primitives.FrontendService {
			p, err := freePort(host)
			if err != nil {
				return nil, nil, err
			}
			port = p
		}
		membershipPort, err := freePort(host)
		if err != nil {
			return nil, nil, err
		}
		rpc := config.RPC{GRPCPort: port, MembershipPort: membershipPort, BindOnIP: host}
		if name == primitives.FrontendService {
			if rpc.HTTPPort, err = freePort(host); err != nil { // the frontend's HTTP API (Nexus and the HTTP gateway)
				return nil, nil, err
			}
		}
		services[string(name)] = config.Service{RPC: rpc}
		hosts[name] = static.SingleLocalHost(net.JoinHostPort(host, strconv.Itoa(port)))
	}
	frontend := net.JoinHostPort(host, strconv.Itoa(frontendPort))
	metricsPort, err := freePort(host)
	if err != nil {
		return nil, nil, err
	}
	cfg := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host},
			Metrics: &metrics.Config{Prometheus: &metrics.PrometheusConfig{
				ListenAddress: net.JoinHostPort(host, strconv.Itoa(metricsPort)), HandlerPath: "/metrics",
			}},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: frontend},
	}
	return cfg, hosts, nil
}

// resolvePort checks that addr can be listened on, and picks a free port for port 0. The UI server exits
// the whole process when its port is taken, so a clear error here is the only chance to say why.
func resolvePort(addr, what string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s address %q: %w", what, addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if portStr == "0" {
		port, err := freePort(host)
		return host, port, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, portStr))
	if err != nil {
		return "", 0, fmt.Errorf("%s cannot listen on %s (is another rudderhook dev or Temporal server running?): %w", what, addr, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return host, port, nil
}

// freePort picks a free port for an internal service below the kernel's ephemeral range (32768 and up on
// Linux), so that outgoing connections and other listen(":0") calls, which take ports from that range,
// cannot take it between the pick and the server binding it.
func freePort(host string) (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(12000)
		if l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port))); err == nil {
			_ = l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitForPort(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not start listening: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
