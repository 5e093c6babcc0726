// Command rudderhook receives Airudder's callbacks and turns every call into a durable Temporal workflow.
//
//	rudderhook dev      everything in one process for a laptop (embedded Temporal + UI, worker, API)
//	rudderhook serve    the HTTP API (receiver and admin) against a Temporal cluster
//	rudderhook worker   the Temporal worker
//	rudderhook migrate  apply database migrations
//	rudderhook send     sign and post a callback as Airudder would
//	rudderhook rules    lint rules, and test them on calls
//	rudderhook users    make sign-in tokens for the rules page
//	rudderhook codec    serve the Temporal UI's codec endpoint for encrypted payloads
//	rudderhook bench    measure acknowledgements and calls end to end against the ceilings of this machine
//	rudderhook reconcile  backfill a source's calls that no callback brought, from Airudder's records
//
// This package is the wiring: it reads the configuration, builds loggers and clients, and hands them to
// the packages that do the work.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "time/tzdata" // calling windows name IANA zones; the image may have no zoneinfo

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/rudderhook/rudderhook/config"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // the first signal starts a clean stop; a second one ends the process at once
	}()
	if err := rootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "rudderhook:", err)
		stop()
		os.Exit(1)
	}
}

// globals are the flags every command shares.
type globals struct {
	configFile string
}

func rootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "rudderhook",
		Short:         "Receive Airudder callbacks and run every call as a durable Temporal workflow",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configFile, "config", "", "YAML file with sources (default $RUDDERHOOK_CONFIG)")
	root.AddCommand(devCmd(g), serveCmd(g), workerCmd(g), migrateCmd(g), sendCmd(), rulesCmd(g), usersCmd(), piiCmd(g), codecCmd(g), benchCmd(g), reconcileCmd(g))
	return root
}

// load reads the configuration and builds the logger.
func (g *globals) load() (*config.Config, *slog.Logger, error) {
	cfg, err := config.Load(os.Environ(), g.configFile)
	if err != nil {
		return nil, nil, err
	}
	return cfg, newLogger(cfg), nil
}

func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if strings.EqualFold(cfg.LogFormat, "json") {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h)
}
