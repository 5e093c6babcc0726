//go:build nodev

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/rudderhook/rudderhook/config"
)

// A release build (-tags nodev) leaves out dev's embedded Temporal server and Web UI, and dev's private
// PostgreSQL (embedded-postgres), which production never runs (serve and worker talk to a Temporal
// cluster and DATABASE_URL): the binary is about half the size, and serve and worker start with a
// fraction of the resident memory, since the server's packages are neither mapped in nor initialised.

type embeddedOptions struct {
	DataDir, FrontendAddr, UIAddr, Namespace, CodecEndpoint string
	Log                                                     *slog.Logger
}

type embeddedTemporal struct{ FrontendAddr, UIURL, DBPath string }

func (*embeddedTemporal) Stop() {}

var errNoEmbeddedTemporal = errors.New("this rudderhook is a release build (-tags nodev) without the embedded Temporal server: " +
	"run dev from a full build (make build), or give serve and worker a Temporal server (TEMPORAL_ADDRESS), or bench one with --temporal")

func startEmbeddedTemporal(context.Context, embeddedOptions) (*embeddedTemporal, error) {
	return nil, errNoEmbeddedTemporal
}

// startPrivatePostgres says why this build has no private PostgreSQL (nor can it run dev at all).
func startPrivatePostgres(_ context.Context, _ string, _ *slog.Logger, alsoTried string) (privatePostgres, error) {
	return nil, errors.New(alsoTried + "; and this release build (-tags nodev) has no private PostgreSQL: set DATABASE_URL, or run dev from a full build (make build)")
}

// startDevAirudder has no fake Airudder to start in a release build (which cannot run dev anyway).
func startDevAirudder(*config.Config, *slog.Logger) *devAirudder { return nil }
