package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/workflows"
)

// Schedules are the Temporal Schedules a deployment's configuration asks for (cmd makes them from it).
type Schedules struct {
	// TaskQueue is where their runs start (TEMPORAL_TASK_QUEUE; empty: workflows.TaskQueue).
	TaskQueue string
	// Sources are every configured source; Reconcile those whose reconciliation is on, with its interval.
	Sources   []string
	Reconcile map[string]time.Duration
	// ExpectationsSweep is how often the re-calls' expectations are swept; 0: never.
	ExpectationsSweep time.Duration
}

// EnsureSchedules keeps the Temporal Schedules the configuration asks for, idempotently, at every
// worker's start: one per source whose reconciliation is on (every reconcile.interval, a run of
// ReconcileWorkflow), and the expectations' sweep (every RUDDERHOOK_EXPECTATIONS_SWEEP, a run of
// ExpectationsWorkflow). A schedule that exists is updated to the configuration; one of a source whose
// reconciliation is off (or of a source no longer configured) is deleted. A run still going when the
// next is due makes that one skip (overlap policy skip).
func EnsureSchedules(ctx context.Context, c client.Client, cfg Schedules, log *slog.Logger) error {
	sc := c.ScheduleClient()
	queue := workflows.TaskQueueOr(cfg.TaskQueue)
	want := map[string]client.ScheduleOptions{}
	for name, every := range cfg.Reconcile {
		id := workflows.ReconcileScheduleID(name)
		want[id] = scheduleOf(id, every, &client.ScheduleWorkflowAction{
			ID: workflows.ScheduledReconcileID(name), Workflow: workflows.ReconcileWorkflowType, TaskQueue: queue,
			Args: []any{workflows.ReconcileInput{Source: name}}, StaticSummary: "Reconcile " + name + " since its high-water mark",
		})
	}
	if cfg.ExpectationsSweep > 0 {
		id := workflows.ExpectationsScheduleID
		want[id] = scheduleOf(id, cfg.ExpectationsSweep, &client.ScheduleWorkflowAction{
			ID: "expectations/sweep", Workflow: workflows.ExpectationsWorkflowType, TaskQueue: queue,
			StaticSummary: "Mark overdue re-calls and fire recall_overdue",
		})
	}
	var problems []error
	for id, opts := range want {
		if err := ensureSchedule(ctx, sc, opts); err != nil {
			problems = append(problems, err)
			continue
		}
		log.Info("schedule kept", "schedule", id, "every", opts.Spec.Intervals[0].Every)
	}
	for _, id := range unwanted(ctx, sc, cfg, want, log) {
		err := sc.GetHandle(ctx, id).Delete(ctx)
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
		case err != nil:
			problems = append(problems, fmt.Errorf("delete schedule %s: %w", id, err))
		default:
			log.Info("schedule deleted: its reconciliation is off", "schedule", id)
		}
	}
	return errors.Join(problems...)
}

func scheduleOf(id string, every time.Duration, action *client.ScheduleWorkflowAction) client.ScheduleOptions {
	return client.ScheduleOptions{ID: id, Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}},
		Action: action, Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP}
}

// ensureSchedule creates the schedule, or updates the one of that ID to opts.
func ensureSchedule(ctx context.Context, sc client.ScheduleClient, opts client.ScheduleOptions) error {
	_, err := sc.Create(ctx, opts)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, temporal.ErrScheduleAlreadyRunning):
		return fmt.Errorf("create schedule %s: %w", opts.ID, err)
	}
	err = sc.GetHandle(ctx, opts.ID).Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		s.Spec, s.Action = &opts.Spec, opts.Action
		if s.Policy == nil {
			s.Policy = &client.SchedulePolicies{}
		}
		s.Policy.Overlap = opts.Overlap
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", opts.ID, err)
	}
	return nil
}

// unwanted are the schedules of ours that the configuration no longer asks for: the reconciliation of
// each configured source that is off, and any other of ours that the list of schedules shows (a source
// removed from the configuration; the list is eventually consistent, so it is a best effort).
func unwanted(ctx context.Context, sc client.ScheduleClient, cfg Schedules, want map[string]client.ScheduleOptions, log *slog.Logger) []string {
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if _, ok := want[id]; !ok && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, name := range cfg.Sources {
		add(workflows.ReconcileScheduleID(name))
	}
	if cfg.ExpectationsSweep <= 0 {
		add(workflows.ExpectationsScheduleID)
	}
	iter, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		log.Warn("could not list schedules to delete those no longer configured", "error", err)
		return out
	}
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			log.Warn("could not list schedules to delete those no longer configured", "error", err)
			break
		}
		if strings.HasPrefix(e.ID, workflows.ReconcileScheduleID("")) {
			add(e.ID)
		}
	}
	return out
}
