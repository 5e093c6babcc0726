package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/bench"
)

func benchCmd(g *globals) *cobra.Command {
	opts := bench.Options{Namespace: "default"}
	var jsonPath, loadURL, plainAddr, key string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure this machine: the ceilings, acknowledgements per ack mode, and calls end to end",
		Long: `bench measures, in one run against one PostgreSQL and one Temporal:

  1. the ceilings: a plain receiver built into the bench (verify the Sign, insert the call into
     PostgreSQL, answer {}), bare StartWorkflow of a workflow no worker runs, and an empty workflow run
     to completion;
  2. rudderhook's acknowledgements in each ack mode (acks/s, latency p50/p95/p99, p99 at half the
     maximum rate, and how long after its ack a call's workflow started), over HTTP with signed
     seed-shaped callbacks and distinct call IDs, against "rudderhook serve" and "rudderhook worker"
     running as child processes of this binary;
  3. end to end: calls stored per second, and follow-ups (one webhook per call, to a sink in the bench)
     delivered per second;
  4. the ratios against the ceilings, and the peak RSS of serve and worker.

By default Temporal is dev's embedded server (SQLite, in a temporary directory) started in the bench's
own process; --temporal points at any other. It is safe to point anywhere:

  - serve and worker run on a task queue of the bench's own (rudderhook-bench-<random>), so they never
    take a deployment's tasks, nor a deployment's workers the bench's;
  - it refuses a namespace where workers poll the production task queue (rudderhook, or
    TEMPORAL_TASK_QUEUE), unless --force;
  - it makes a database of its own, rudderhook_bench_<random>, on the server of --database-url (or
    DATABASE_URL), and drops it when it ends; it drops no other database, whatever the URL names.

serve and worker run from this binary, or from --binary: a release build (make release: -tags nodev,
without the embedded Temporal server, as the container image is built) measures the memory production
sees.

Two parts run alone, to load any running receiver with the same generator:

  rudderhook bench --plain 127.0.0.1:8099       # the plain receiver, until Ctrl-C
  rudderhook bench --load http://127.0.0.1:8099/webhooks/plain/call-completed -n 1000 -c 32
  rudderhook bench --load http://127.0.0.1:8080/webhooks/airudder/call-completed -n 1000 -c 32   # dev`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			if opts.DatabaseURL == "" {
				opts.DatabaseURL = cfg.DatabaseURL // the server: the bench makes a database of its own there
			}
			opts.ProductionTaskQueue = cfg.Temporal.TaskQueue
			switch {
			case loadURL != "":
				r, err := bench.Load(ctx, loadURL, key, opts.N, opts.Concurrency)
				fmt.Printf("%d callbacks to %s at concurrency %d: %.0f acks/s, p50 %s, p95 %s, p99 %s, %d refused or failed\n",
					opts.N, loadURL, opts.Concurrency, r.PerSec, r.P50.Round(100*time.Microsecond), r.P95.Round(100*time.Microsecond),
					r.P99.Round(100*time.Microsecond), r.Errors)
				return err
			case plainAddr != "":
				return bench.ServePlain(ctx, opts.DatabaseURL, plainAddr, key, log)
			}
			if opts.Binary == "" {
				if opts.Binary, err = os.Executable(); err != nil {
					return err
				}
			}
			opts.Log = log
			opts.StartTemporal = func(ctx context.Context) (string, func(), error) {
				dir, err := os.MkdirTemp("", "rudderhook-bench-temporal-")
				if err != nil {
					return "", nil, err
				}
				ds, err := startEmbeddedTemporal(ctx, embeddedOptions{DataDir: dir, FrontendAddr: "127.0.0.1:0", Namespace: opts.Namespace, Log: log})
				if err != nil {
					_ = os.RemoveAll(dir)
					return "", nil, err
				}
				return ds.FrontendAddr, func() { ds.Stop(); _ = os.RemoveAll(dir) }, nil
			}
			rep, workerRSS, err := bench.Run(ctx, opts)
			if rep != nil {
				rep.WriteTable(os.Stdout, workerRSS)
			}
			if err != nil {
				return err
			}
			if jsonPath != "" {
				f, err := os.Create(jsonPath)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := rep.WriteJSON(f, workerRSS); err != nil {
					return err
				}
				abs, _ := filepath.Abs(jsonPath)
				fmt.Printf("\nJSON written to %s\n", abs)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&opts.N, "n", "n", 2000, "callbacks (and workflows) per measurement")
	f.IntVarP(&opts.Concurrency, "concurrency", "c", 32, "requests (and starts) at once")
	f.StringSliceVar(&opts.Modes, "modes", []string{"inbox", "temporal"}, "acknowledgement modes to measure")
	f.StringVar(&opts.DatabaseURL, "database-url", "", "PostgreSQL server on which the bench makes a database of its own (rudderhook_bench_<random>, dropped when it ends; the database the URL names is not touched) (default: DATABASE_URL's server)")
	f.StringVar(&opts.Binary, "binary", "", "the rudderhook binary that runs serve and worker (default: this one); e.g. bin/rudderhook-release, built as production runs it (make release)")
	f.StringVar(&opts.TemporalAddress, "temporal", "", "Temporal frontend to measure against (default: dev's embedded server, started by the bench)")
	f.StringVar(&opts.Namespace, "namespace", "default", "Temporal namespace (it needs rudderhook's search attributes)")
	f.BoolVar(&opts.Force, "force", false, "run even where workers poll the production task queue of --namespace (the bench still runs on a task queue of its own)")
	f.StringVar(&jsonPath, "json", "bench.json", "where to write the figures as JSON (empty: nowhere)")
	f.StringVar(&loadURL, "load", "", "only load this receiver URL: post -n signed call completions (distinct call IDs) at -c, print the rate and latencies, and exit")
	f.StringVar(&plainAddr, "plain", "", "only run the plain receiver at this address (POST /webhooks/plain/call-completed, on the bench's database) until interrupted")
	f.StringVar(&key, "key", airudder.DefaultKey, "Sign key of --load's callbacks and of --plain's receiver")
	return cmd
}
