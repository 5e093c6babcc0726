package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/worker"
	"github.com/rudderhook/rudderhook/workflows"
)

// startsSubjects gives the worker's activities the receiver's way of handing subjects to their
// workflows (backfilled calls, recall_overdue events), with the installation's keys that the receiver
// reads them with.
func startsSubjects(acts *activities.Activities, c client.Client, cfg *config.Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	idKey, err := acts.Store.InstallationKey(ctx, store.KeyNumberIDs)
	if err != nil {
		return fmt.Errorf("%w (has `rudderhook migrate` been run?)", err)
	}
	cfg.UseNumberKeys(idKey)
	acts.Starter = &ingest.Service{Temporal: c, Store: acts.Store, Sources: cfg.Sources, Log: log.With("component", "backfill"),
		Parallelism: 8, TaskQueue: cfg.Temporal.TaskQueue}
	return nil
}

// keepSchedules creates or updates the Schedules of reconciliation and of the expectations' sweep; a
// worker that cannot still works (the schedules of an earlier start keep running), and says so.
func keepSchedules(c client.Client, cfg *config.Config, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := worker.Schedules{TaskQueue: cfg.Temporal.TaskQueue, Sources: cfg.SourceNames(), Reconcile: cfg.ReconcileIntervals(),
		ExpectationsSweep: cfg.ExpectationsSweep}
	if err := worker.EnsureSchedules(ctx, c, want, log.With("component", "schedules")); err != nil {
		log.Error("could not keep the schedules of reconciliation and of the re-calls' expectations", "error", err)
	}
}

func reconcileCmd(g *globals) *cobra.Command {
	var source, from, to string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Backfill a source's calls that no callback brought, from Airudder's records over a span",
		Long: `reconcile starts a run of reconciliation over [--from, --to) for --source: Airudder's call records of that
span are compared with the calls stored, and every call no callback brought (or that Airudder corrected
since) is handed to its workflow as a callback would be, marked backfilled. The source's high-water mark
is left as it is. It prints the run's progress and, once it ends, its report; --no-wait prints the run's
workflow ID and returns. Times are RFC 3339 (2025-03-01T08:00:00Z), "now", or a duration before now
("-2h"). The worker runs it: it needs Airudder's API (AIRUDDER_*) and the source's reconcile settings.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			if source == "" {
				source = cfg.SourceNames()[0]
			}
			now := time.Now()
			f, err := parseWhen(from, now)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			t, err := parseWhen(to, now)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			c, err := dialTemporal(ctx, cfg.Temporal, log)
			if err != nil {
				return err
			}
			defer c.Close()
			id, err := ingest.StartReconcile(ctx, c, cfg.Sources, source, f, t, cfg.Temporal.TaskQueue)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "reconciling %s from %s to %s: workflow %s\n", source, f.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339), id)
			if ui := workflows.UILink(cfg.Temporal.UIURL, cfg.Temporal.Namespace, id); ui != "" {
				fmt.Fprintf(out, "  %s\n", ui)
			}
			if noWait {
				return nil
			}
			return followReconcile(ctx, c, id, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "the source whose calls to reconcile (default the first configured)")
	f.StringVar(&from, "from", "-2h", "start of the span: RFC 3339, now, or a duration before now")
	f.StringVar(&to, "to", "now", "end of the span (excluded): RFC 3339, now, or a duration before now")
	f.BoolVar(&noWait, "no-wait", false, "start the run and return without following it")
	return cmd
}

// parseWhen reads a time: RFC 3339, "now", or a duration before now ("-2h", "90m").
func parseWhen(v string, now time.Time) (time.Time, error) {
	if v == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(strings.TrimPrefix(v, "-"))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time, now, nor a duration before now", v)
	}
	return now.Add(-d), nil
}

// followReconcile prints a run's progress every few seconds until it ends, then its report.
func followReconcile(ctx context.Context, c client.Client, id string, out io.Writer) error {
	done := make(chan error, 1)
	var rep workflows.ReconcileReport
	go func() { done <- c.GetWorkflow(ctx, id, "").Get(ctx, &rep) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	last := ""
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("reconciliation %s: %w", id, err)
			}
			b, _ := json.MarshalIndent(rep, "", "  ")
			fmt.Fprintf(out, "done: %d slices scanned, %d records seen, %d calls backfilled (%d differed), %d errors\n%s\n",
				rep.WindowsScanned, rep.Records, rep.Backfilled, rep.Differences, rep.Errors, b)
			if rep.Errors > 0 {
				return fmt.Errorf("reconciliation %s ended with %d errors", id, rep.Errors)
			}
			return nil
		case <-tick.C:
			v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryReconcileProgress)
			var now workflows.ReconcileReport
			if err != nil || v.Get(&now) != nil {
				continue
			}
			line := fmt.Sprintf("  %d slices scanned, %d records seen, %d backfilled, %d differences, %d errors",
				now.WindowsScanned, now.Records, now.Backfilled, now.Differences, now.Errors)
			if line != last {
				fmt.Fprintln(out, line)
				last = line
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
