package bench

// What a call costs in Temporal, read from the histories of the bench's own run: its workflows (the call's
// and its children's, in the types before the one pipeline), their history events and workflow tasks, and what those events amount
// to in Temporal Cloud actions, the unit Temporal Cloud bills and throttles a namespace by.

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
)

// Cost is what Temporal recorded for calls, per call (a mean when it was read over several).
//
// Actions estimates Temporal Cloud's actions (https://docs.temporal.io/cloud/actions) from the events
// of the histories: a workflow started (a call's, a child's), each activity attempt,
// each workflow task whose commands recorded local activities (one for all of them), each timer, each
// search-attribute upsert (not those at start, nor versioning's TemporalChangeVersion), each signal and
// each side effect. It leaves out what no history shows: queries (one each, the Temporal UI's stack view
// too), heartbeats, and local activities that outlive a workflow task.
type Cost struct {
	Workflows float64 `json:"workflows"`
	Events    float64 `json:"history_events"`
	// HistoryBytes is the size of those events as Temporal stores them (protobuf), payloads included.
	HistoryBytes  float64 `json:"history_bytes"`
	WorkflowTasks float64 `json:"workflow_tasks"`
	// Activities counts attempts; LocalActivities the local activities recorded (markers), and
	// LocalActivityTasks the workflow tasks that recorded them (one action each).
	Activities         float64 `json:"activity_attempts"`
	LocalActivities    float64 `json:"local_activities"`
	LocalActivityTasks float64 `json:"workflow_tasks_with_local_activities"`
	Timers             float64 `json:"timers"`
	Upserts            float64 `json:"search_attribute_upserts"`
	Signals            float64 `json:"signals"`
	Children           float64 `json:"child_workflows"`
	SideEffects        float64 `json:"side_effects"`
	Actions            float64 `json:"actions"`
}

// add adds o to c, figure by figure.
func (c *Cost) add(o Cost) { c.each(o, func(a *float64, b float64) { *a += b }) }

// scaled is c with every figure multiplied by f.
func (c Cost) scaled(f float64) Cost {
	c.each(c, func(a *float64, _ float64) { *a *= f })
	return c
}

// each calls f with a pointer to each of c's figures and the same figure of o (every field of Cost is a
// figure, a float64).
func (c *Cost) each(o Cost, f func(a *float64, b float64)) {
	cv, ov := reflect.ValueOf(c).Elem(), reflect.ValueOf(o)
	for i := range cv.NumField() {
		f(cv.Field(i).Addr().Interface().(*float64), ov.Field(i).Float())
	}
}

// Marker names the Go SDK records (internal_decision_state_machine.go); versioning's are not billed.
const (
	localActivityMarker     = "LocalActivity"
	sideEffectMarker        = "SideEffect"
	mutableSideEffectMarker = "MutableSideEffect"
	changeVersionAttribute  = "TemporalChangeVersion"
)

// countHistory is what one run's history holds, and the child runs it started, whose histories belong to
// the same call. (A call's workflow does not continue as new.)
func countHistory(events []*historypb.HistoryEvent) (c Cost, next [][2]string) {
	c.Workflows = 1
	laTasks := map[int64]bool{}
	for _, e := range events {
		c.Events++
		c.HistoryBytes += float64(proto.Size(e))
		switch e.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			c.WorkflowTasks++
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			c.Activities++
		case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			// The started event is written when the activity closes, with the attempt that closed it:
			// the attempts before it were retries, each an action.
			c.Activities += float64(max(0, e.GetActivityTaskStartedEventAttributes().GetAttempt()-1))
		case enums.EVENT_TYPE_MARKER_RECORDED:
			a := e.GetMarkerRecordedEventAttributes()
			switch a.GetMarkerName() {
			case localActivityMarker:
				c.LocalActivities++
				laTasks[a.GetWorkflowTaskCompletedEventId()] = true
			case sideEffectMarker, mutableSideEffectMarker:
				c.SideEffects++
			}
		case enums.EVENT_TYPE_TIMER_STARTED:
			c.Timers++
		case enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			fields := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
			if _, versioning := fields[changeVersionAttribute]; !versioning || len(fields) > 1 {
				c.Upserts++
			}
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			c.Signals++
		case enums.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
			c.Children++
			we := e.GetChildWorkflowExecutionStartedEventAttributes().GetWorkflowExecution()
			next = append(next, [2]string{we.GetWorkflowId(), we.GetRunId()})
		}
	}
	c.LocalActivityTasks = float64(len(laTasks))
	// A workflow start (a child's too) is one action; so is everything counted above but events, tasks and
	// the local activities themselves.
	c.Actions = 1 + c.Activities + c.LocalActivityTasks + c.Timers + c.Upserts + c.Signals + c.SideEffects
	return c, next
}

// callWait bounds how long callCost waits for a call's workflows to close.
const callWait = 2 * time.Minute

// callCost waits until the workflow workflowID (its latest run) and every child it started have closed,
// and returns what their histories hold.
func callCost(ctx context.Context, tc client.Client, workflowID string) (Cost, error) {
	ctx, cancel := context.WithTimeout(ctx, callWait)
	defer cancel()
	var total Cost
	queue := [][2]string{{workflowID, ""}}
	for len(queue) > 0 {
		id, run := queue[0][0], queue[0][1]
		queue = queue[1:]
		if err := tc.GetWorkflow(ctx, id, run).Get(ctx, nil); err != nil {
			return total, fmt.Errorf("workflow %s did not complete (within %s): %w", id, callWait, err)
		}
		var events []*historypb.HistoryEvent
		it := tc.GetWorkflowHistory(ctx, id, run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return total, fmt.Errorf("history of %s: %w", id, err)
			}
			events = append(events, e)
		}
		one, children := countHistory(events)
		queue = append(queue, children...)
		total.add(one)
	}
	return total, nil
}

// meanCost is the mean Cost of the calls whose workflows are ids, read concurrency at once.
func meanCost(ctx context.Context, tc client.Client, ids []string, concurrency int) (Cost, error) {
	costs := make([]Cost, len(ids))
	if _, err := run(ctx, len(ids), concurrency, func(ctx context.Context, i int) error {
		var err error
		costs[i], err = callCost(ctx, tc, ids[i])
		return err
	}); err != nil {
		return Cost{}, err
	}
	var sum Cost
	for _, c := range costs {
		sum.add(c)
	}
	if len(ids) == 0 {
		return sum, nil
	}
	return sum.scaled(1 / float64(len(ids))), nil
}
