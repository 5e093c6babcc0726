//go:build !nodev

package main

import (
	"context"
	"errors"
	"log/slog"

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
