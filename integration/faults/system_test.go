package faults

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

const adminToken = "faults-suite-admin-token-0123456789abcdef" // serve wants 32 characters or more

// sinkSecret signs the webhooks to the sink (Standard Webhooks), as a CRM's secret would.
const sinkSecret = "whsec_ZmF1bHQtc3VpdGUtc2luay1zZWNyZXQtMDEyMzQ1Njc="

// system is one rudderhook under test: its processes, its database and the sink its follow-ups go to.
type system struct {
	t     *testing.T
	dir   string // logs, the rules file, Temporal's SQLite state
	dbURL string
	pg    *postgres // the suite's own PostgreSQL, when the scenario stops it
	sink  *sink

	httpAddr, temporalAddr string
	// split runs `dev --temporal-only`, `serve` and `worker`; otherwise one `dev` runs everything.
	split                   bool
	temporal, serve, worker *proc
	dev                     *proc
	ready                   map[*proc]func(context.Context) error
	client                  client.Client // lazy: it outlives Temporal restarts
	db                      *sqlx.DB
}

// startSystem starts a whole system in the shape the scenario needs and waits until it takes callbacks.
func startSystem(t *testing.T, split, ownPostgres bool) *system {
	t.Helper()
	s := &system{t: t, dir: t.TempDir(), split: split, ready: map[*proc]func(context.Context) error{}}
	if os.Getenv(envKeep) == "1" {
		dir, err := os.MkdirTemp("", "rudderhook-faults-"+t.Name()[strings.LastIndex(t.Name(), "/")+1:]+"-")
		if err != nil {
			t.Fatal(err)
		}
		s.dir = dir
		t.Logf("logs and state kept in %s", dir)
	}
	printLogsOnFailure(t, s.dir)
	ctx := context.Background()

	if ownPostgres {
		s.pg = startPostgres(t)
		admin, err := store.Open(ctx, s.pg.url("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = admin.ExecContext(ctx, "CREATE DATABASE rudderhook")
		_ = admin.Close()
		if err != nil {
			t.Fatal(err)
		}
		s.dbURL = s.pg.url("rudderhook")
	} else {
		s.dbURL = storetest.URL(t) // a migrated database of its own on the shared server, dropped at the end
	}

	var err error
	if s.sink, err = startSink(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.sink.close)
	rulesFile := filepath.Join(s.dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(rulesDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	if s.httpAddr, err = freeAddr(); err != nil {
		t.Fatal(err)
	}
	if s.temporalAddr, err = freeAddr(); err != nil {
		t.Fatal(err)
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	env := childEnv(
		"DATABASE_URL="+s.dbURL,
		"TEMPORAL_ADDRESS="+s.temporalAddr,
		"RUDDERHOOK_ADMIN_TOKEN="+adminToken,
		"RUDDERHOOK_SOURCE_AIRUDDER_KEYS="+signKey,
		"RUDDERHOOK_HTTP_ADDR="+s.httpAddr,
		"RUDDERHOOK_RULES_FILE="+rulesFile,
		"RUDDERHOOK_TARGET_SINK_URL=http://"+s.sink.addr+"/crm",
		"RUDDERHOOK_TARGET_SINK_SECRET="+sinkSecret,
		"RUDDERHOOK_TARGET_SINK_ALLOW_PRIVATE=true", // the sink listens on loopback
		"RUDDERHOOK_SHUTDOWN_GRACE=5s",
		"RUDDERHOOK_LOG_LEVEL=info",
	)
	newProc := func(name string, env []string, args ...string) *proc {
		p := &proc{name: name, args: append([]string{binary}, args...), env: env, dir: s.dir}
		t.Cleanup(func() { p.stop(10 * time.Second) })
		return p
	}
	temporalData := filepath.Join(s.dir, "temporal")

	s.client, err = client.NewLazyClient(client.Options{
		HostPort: s.temporalAddr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.Close)
	temporalReady := func(ctx context.Context) error {
		_, err := s.client.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}
	apiReady := httpOK("http://" + s.httpAddr + "/readyz")

	if split {
		s.temporal = newProc("temporal", env, "dev", "--temporal-only", "--temporal", s.temporalAddr, "--ui", "", "--data", temporalData)
		s.ready[s.temporal] = temporalReady
		s.mustStart(s.temporal)
		migrate := newProc("migrate", env, "migrate")
		if err := migrate.runToEnd(time.Minute); err != nil {
			t.Fatal(err)
		}
		s.serve = newProc("serve", env, "serve")
		s.ready[s.serve] = apiReady
		s.mustStart(s.serve)
		s.worker = newProc("worker", append(env, "RUDDERHOOK_METRICS_ADDR="+metricsAddr), "worker")
		s.ready[s.worker] = httpOK("http://" + metricsAddr + "/healthz")
		s.mustStart(s.worker)
	} else {
		s.dev = newProc("dev", env, "dev", "--http", s.httpAddr, "--temporal", s.temporalAddr, "--ui", "", "--data", temporalData)
		s.ready[s.dev] = func(ctx context.Context) error {
			if err := temporalReady(ctx); err != nil {
				return err
			}
			return apiReady(ctx)
		}
		s.mustStart(s.dev)
	}

	if s.db, err = store.Open(ctx, s.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.db.Close() })
	return s
}

func (s *system) mustStart(p *proc) {
	s.t.Helper()
	if err := s.restart(p); err != nil {
		s.t.Fatal(err)
	}
}

// restart starts p (again) and waits until it is ready.
func (s *system) restart(p *proc) error {
	began := time.Now()
	if err := p.start(); err != nil {
		return err
	}
	if err := p.waitUntil(time.Minute, s.ready[p]); err != nil {
		return err
	}
	s.t.Logf("%s (run %d) ready in %s", p.name, p.runs, secs(time.Since(began)))
	return nil
}

// receiverURL is where Airudder would post call completions.
func (s *system) receiverURL() string {
	return "http://" + s.httpAddr + "/webhooks/" + source + "/call-completed"
}

// processes names the processes of the system's shape, for the report.
func (s *system) processes() string {
	if s.split {
		return "`serve` + `worker` + `dev --temporal-only`"
	}
	return "`dev`"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
}
