package bench

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
)

// history builds a history of the events described, in order, with IDs from 1.
type history []*historypb.HistoryEvent

func (h *history) add(t enums.EventType, set func(e *historypb.HistoryEvent)) int64 {
	e := &historypb.HistoryEvent{EventId: int64(len(*h) + 1), EventType: t}
	if set != nil {
		set(e)
	}
	*h = append(*h, e)
	return e.EventId
}

func (h *history) task() int64 {
	h.add(enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, nil)
	h.add(enums.EVENT_TYPE_WORKFLOW_TASK_STARTED, nil)
	return h.add(enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, nil)
}

func (h *history) marker(name string, task int64) {
	h.add(enums.EVENT_TYPE_MARKER_RECORDED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_MarkerRecordedEventAttributes{MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{
			MarkerName: name, WorkflowTaskCompletedEventId: task}}
	})
}

func (h *history) upsert(names ...string) {
	fields := map[string]*commonpb.Payload{}
	for _, n := range names {
		fields[n] = &commonpb.Payload{}
	}
	h.add(enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_UpsertWorkflowSearchAttributesEventAttributes{UpsertWorkflowSearchAttributesEventAttributes: &historypb.UpsertWorkflowSearchAttributesEventAttributes{
			SearchAttributes: &commonpb.SearchAttributes{IndexedFields: fields}}}
	})
}

// A history's actions follow Temporal Cloud's counting: one for the start, each activity attempt, each
// workflow task that recorded local activities (however many), each timer, signal, side effect and
// upsert but versioning's; events, tasks and version markers cost none. Children are followed.
func TestCountHistoryCountsActionsAsTemporalCloudDoes(t *testing.T) {
	var h history
	h.add(enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, nil)
	first := h.task()
	h.marker(localActivityMarker, first)
	h.marker(localActivityMarker, first) // two local activities in one task: one action
	h.marker("Version", first)           // GetVersion: no action
	h.upsert(changeVersionAttribute)     // versioning's own upsert: no action
	h.upsert("CallStatus", changeVersionAttribute)
	h.add(enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, nil)
	h.add(enums.EVENT_TYPE_TIMER_STARTED, nil)
	h.add(enums.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, nil)
	h.add(enums.EVENT_TYPE_ACTIVITY_TASK_STARTED, func(e *historypb.HistoryEvent) { // closed on its third attempt
		e.Attributes = &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{Attempt: 3}}
	})
	second := h.task()
	h.marker(localActivityMarker, second)
	h.marker(sideEffectMarker, second)
	h.add(enums.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_ChildWorkflowExecutionStartedEventAttributes{ChildWorkflowExecutionStartedEventAttributes: &historypb.ChildWorkflowExecutionStartedEventAttributes{
			WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "child", RunId: "r1"}}}
	})
	h.task()
	h.add(enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, nil)

	c, next := countHistory(h)
	var size float64
	for _, e := range h {
		size += float64(proto.Size(e))
	}
	want := Cost{Workflows: 1, Events: float64(len(h)), HistoryBytes: size, WorkflowTasks: 3, Activities: 3, LocalActivities: 3, LocalActivityTasks: 2,
		Timers: 1, Upserts: 1, Signals: 1, Children: 1, SideEffects: 1,
		Actions: 1 /* start */ + 3 /* attempts */ + 2 /* tasks with local activities */ + 1 /* timer */ + 1 /* upsert */ + 1 /* signal */ + 1 /* side effect */}
	if c != want {
		t.Errorf("cost\n got %+v\nwant %+v", c, want)
	}
	if len(next) != 1 || next[0] != [2]string{"child", "r1"} {
		t.Errorf("runs to follow = %v, want the child", next)
	}
	// A mean over calls scales every figure.
	var sum Cost
	sum.add(c)
	sum.add(Cost{Workflows: 1, Actions: 1})
	if m := sum.scaled(0.5); m.Workflows != 1 || m.Actions != (want.Actions+1)/2 || m.Events != want.Events/2 {
		t.Errorf("mean %+v", m)
	}
}

// The bench's rules give each shape of call its follow-ups: none, one, two immediate, one on a timer.
func TestBenchRulesGiveEachShapeItsFollowUps(t *testing.T) {
	set, err := rules.Compile([]byte(benchRules), rules.Options{Targets: map[string]bool{"sink": true}})
	if err != nil {
		t.Fatalf("the bench's rules do not compile: %v", err)
	}
	want := map[string]struct{ followUps, delayed int }{
		intentionNone: {0, 0}, "": {1, 0}, intentionTwo: {2, 0}, intentionDelayed: {1, 1},
	}
	for _, sh := range shapes {
		b, err := makeBodies("shape", 1, "k", sh.intention)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := airudder.Decode(b.Bodies[0])
		if err != nil {
			t.Fatal(err)
		}
		cc, err := doc.CallCompleted(airudder.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		rc := cc.Received("bench", now)[0]
		p := set.Plan(rc, "call/bench/"+rc.Key, now)
		delayed := 0
		for _, fu := range p.FollowUps {
			if fu.NotBefore.After(rc.Call.CallEndTime.Add(time.Second)) {
				delayed++
			}
		}
		if w := want[sh.intention]; len(p.FollowUps) != w.followUps || delayed != w.delayed || len(p.Errors) != 0 {
			t.Errorf("shape %q: %d follow-ups (%d delayed), errors %v; want %d (%d delayed)", sh.name, len(p.FollowUps), delayed, p.Errors, w.followUps, w.delayed)
		}
	}
}
