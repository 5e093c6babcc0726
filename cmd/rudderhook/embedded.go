//go:build !nodev

package main

import (
	"context"

	"github.com/rudderhook/rudderhook/devserver"
)

// This build links dev's embedded Temporal server (and Web UI): `dev`, `dev --temporal-only` and the
// bench's default Temporal work. A release build (-tags nodev, `make release`, the container image)
// leaves it out: see embedded_nodev.go.

type (
	embeddedOptions  = devserver.Options
	embeddedTemporal = devserver.Server
)

func startEmbeddedTemporal(ctx context.Context, opts embeddedOptions) (*embeddedTemporal, error) {
	return devserver.Start(ctx, opts)
}
