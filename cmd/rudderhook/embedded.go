//go:build !nodev

package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/devserver"
	"github.com/rudderhook/rudderhook/devserver/devpostgres"
)

// This build links dev's embedded Temporal server (and Web UI) and its private PostgreSQL: `dev`,
// `dev --temporal-only` and the bench's default Temporal work. A release build (-tags nodev, `make
// release`, the container image) leaves them out: see embedded_nodev.go.

type (
	embeddedOptions  = devserver.Options
	embeddedTemporal = devserver.Server
)

func startEmbeddedTemporal(ctx context.Context, opts embeddedOptions) (*embeddedTemporal, error) {
	return devserver.Start(ctx, opts)
}

// startPrivatePostgres starts dev's private PostgreSQL in dir; when it cannot, the error says what was
// tried, alsoTried first, and how to install a server.
func startPrivatePostgres(ctx context.Context, dir string, log *slog.Logger, alsoTried string) (privatePostgres, error) {
	pg, err := devpostgres.Start(ctx, devpostgres.Options{Dir: dir, Log: log.With("component", "postgres")})
	var nf *devpostgres.NotFoundError
	if errors.As(err, &nf) {
		nf.Tried = append([]string{alsoTried}, nf.Tried...)
	}
	if err != nil {
		return nil, err
	}
	return pg, nil
}

// demoCalls are the calls dev's fake Airudder holds: two hours of them, one every three minutes.
const demoCalls = 40

// startDevAirudder runs a fake Airudder (airuddertest) for dev when no Airudder is configured (neither
// AIRUDDER_BASE_URL nor AIRUDDER_APP_KEY is set): re-calls, cancels and reconciliation go to it, with
// times in UTC. It holds demo calls that no callback brought, and reconciliation is on for the first
// source (every 10 minutes, unless the configuration says otherwise), so that dev shows them backfilled.
// It returns nil when Airudder is configured.
func startDevAirudder(cfg *config.Config, log *slog.Logger) *devAirudder {
	if cfg.Airudder.BaseURLSet || cfg.Airudder.AppKey != "" {
		return nil
	}
	fa := airuddertest.Start(log.With("component", "fake-airudder"))
	fa.Seed(airuddertest.DemoRecords(time.Now(), demoCalls)...)
	a := &cfg.Airudder
	a.BaseURL, a.AppKey, a.AppSecret, a.PDSBase, a.CancelContactPath = fa.URL, airuddertest.AppKey, airuddertest.AppSecret, "", ""
	a.PDSAppKey, a.PDSAppSecret, a.TimeZone, a.Location = "", "", "UTC", time.UTC
	name := cfg.SourceNames()[0]
	if r := &cfg.Sources[name].Reconcile; !r.Enabled() {
		r.Interval = devReconcileInterval
	}
	return &devAirudder{URL: fa.URL, Calls: demoCalls, Source: name, Interval: cfg.Sources[name].Reconcile.Interval, stop: fa.Close}
}
