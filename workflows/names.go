package workflows

import (
	"cmp"
	"fmt"
	"net/url"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/payload"
)

// TaskQueue is the task queue that rudderhook's workers poll and its API starts workflows on, unless
// TEMPORAL_TASK_QUEUE names another: the bench does, so that its worker never takes a deployment's tasks
// in a namespace they share.
const TaskQueue = "rudderhook"

// SubjectWorkflowType is the name SubjectWorkflow is registered by (worker.Register).
const SubjectWorkflowType = "SubjectWorkflow"

// TaskQueueOr is queue, or TaskQueue when queue is empty (the setting unset).
func TaskQueueOr(queue string) string { return cmp.Or(queue, TaskQueue) }

// SignalRevision is the signal that hands a call's workflow a new revision of the call (a corrected
// redelivery); its argument is a CallCompletedInput.
const SignalRevision = "revision"

// CallWorkflowID is the ID of the workflow that handles one call: "call/{source}/{key}". Deriving it from
// the call makes a repeated callback find the workflow it already started instead of starting another.
func CallWorkflowID(source, key string) string { return "call/" + source + "/" + key }

// FollowUpWorkflowID is the ID of the workflow that carries out one follow-up of a call:
// "call/{source}/{key}/followup/{rule}/{action}", so it sorts and reads next to its call.
func FollowUpWorkflowID(callWorkflowID, ruleID, action string) string {
	return callWorkflowID + "/followup/" + ruleID + "/" + action
}

// FollowUpStartOptions start a follow-up's workflow on queue (TaskQueueOr) from outside its call's
// workflow (a retry from the admin API): a new run is allowed only when the last one failed, so a retry
// can never run a follow-up that is still running or already succeeded.
func FollowUpStartOptions(workflowID, summary string, attrs []temporal.SearchAttributeUpdate, queue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       workflowID,
		TaskQueue:                TaskQueueOr(queue),
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without this, a refused start would quietly hand back the last (failed) run as if retried.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attrs...),
		StaticSummary:                            "Retry: " + summary,
	}
}

// Search attributes set on every call workflow, so operators can find executions by case, callee or
// outcome in the Temporal UI (e.g. `CaseID = "7777777.0"` or `Intention = "PTP"`).
var (
	CaseIDKey       = temporal.NewSearchAttributeKeyKeyword("CaseID")
	CallIDKey       = temporal.NewSearchAttributeKeyKeyword("CallID")
	CalleeNumberKey = temporal.NewSearchAttributeKeyKeyword("CalleeNumber")
	IntentionKey    = temporal.NewSearchAttributeKeyKeyword("Intention")
	TaskIDKey       = temporal.NewSearchAttributeKeyKeyword("TaskID")
	SourceKey       = temporal.NewSearchAttributeKeyKeyword("Source")
	// KindKey is the callback kind of an event's workflow, as rules name it ("list_completed",
	// "pds.agent_status"): `Kind = "qa_result"`.
	KindKey = temporal.NewSearchAttributeKeyKeyword("Kind")
)

// SearchAttributeTypes lists the custom search attributes to register on a namespace.
func SearchAttributeTypes() map[string]enumspb.IndexedValueType {
	out := map[string]enumspb.IndexedValueType{}
	for _, k := range []temporal.SearchAttributeKeyKeyword{CaseIDKey, CallIDKey, CalleeNumberKey, IntentionKey, TaskIDKey, SourceKey, KindKey} {
		out[k.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	return out
}

// SearchAttributes are the values of the custom search attributes for one call; empty values are left out.
// A value longer than payload.SearchTextLimit is cut, with a hash of the whole (the full value is in
// PostgreSQL), so that it fits Temporal's per-value limit whatever the sender wrote. CalleeNumber is the
// keyed hash of the number when a PII key is set (see calleeNumber).
func SearchAttributes(rc airudder.ReceivedCall) []temporal.SearchAttributeUpdate {
	return keywords(
		keyword{CaseIDKey, rc.Call.CaseID},
		keyword{CallIDKey, rc.Call.CallID},
		keyword{CalleeNumberKey, calleeNumber(rc.CalleeNumberHMAC, rc.Call.CalleeNumber)},
		keyword{IntentionKey, rc.Call.Intention},
		keyword{TaskIDKey, rc.Task.TaskID},
		keyword{SourceKey, rc.Source},
	)
}

// calleeNumber is the value of the CalleeNumber search attribute: the keyed hash of the number that the
// receiver computed when a PII key is set (RUDDERHOOK_PII_KEY; search attributes are never encrypted,
// and whoever reads Temporal reads them), else the number itself. The hash comes in the workflow's input,
// so workflow code never holds the key, and a history replays with the value it recorded.
func calleeNumber(hmac, number string) string { return cmp.Or(hmac, number) }

// keyword is one value of a Keyword search attribute.
type keyword struct {
	key temporal.SearchAttributeKeyKeyword
	val string
}

// keywords are the updates that set the non-empty values, each cut to payload.SearchTextLimit with a hash
// of the whole when longer.
func keywords(kvs ...keyword) []temporal.SearchAttributeUpdate {
	var out []temporal.SearchAttributeUpdate
	for _, kv := range kvs {
		if kv.val != "" {
			out = append(out, kv.key.ValueSet(kv.value()))
		}
	}
	return out
}

// value is the keyword's value as it is set: cut to payload.SearchTextLimit, with a hash of the whole.
func (kv keyword) value() string { return payload.CutHashed(kv.val, payload.SearchTextLimit) }

// SubjectWorkflowID is the ID of the workflow that handles a subject: CallWorkflowID for a call,
// EventWorkflowID for an event.
func SubjectWorkflowID(s airudder.Subject) string {
	if s.IsCall() {
		return CallWorkflowID(s.Call.Source, s.Call.Key)
	}
	return EventWorkflowIDOf(*s.Event)
}

// subjectKeywords are the search attributes of a subject, whatever its kind: Source and Kind always
// (Kind as rules name it: "call_completed", "pds.agent_status"), and what it is about where its kind
// says.
func subjectKeywords(s airudder.Subject) []keyword {
	about := s.About()
	return []keyword{
		{SourceKey, s.Source()},
		{KindKey, s.On()},
		{CaseIDKey, about.CaseID},
		{CallIDKey, about.CallID},
		{CalleeNumberKey, calleeNumber(about.CalleeNumberHMAC, about.CalleeNumber)},
		{IntentionKey, about.Intention},
		{TaskIDKey, about.TaskID},
	}
}

// SubjectSearchAttributes are the values of the custom search attributes for a subject; empty values
// are left out. They are set when its workflow starts.
func SubjectSearchAttributes(s airudder.Subject) []temporal.SearchAttributeUpdate {
	return keywords(subjectKeywords(s)...)
}

// SubjectStartOptions are the options to signal-with-start the workflow of a subject with a delivery
// (SignalRevision): the open run takes the signal; a closed one gets a new run. The search attributes,
// summary and details are set here, at the start.
func SubjectStartOptions(s airudder.Subject, queue string) client.StartWorkflowOptions {
	return signalStartOptions(SubjectWorkflowID(s), SubjectSearchAttributes(s), SubjectSummary(s), subjectDetails(s), queue)
}

// SubjectSummary is the one line the Temporal UI shows for a subject's workflow: what it says (phone
// numbers masked) and how many of its fields were kept as sent.
func SubjectSummary(s airudder.Subject) string {
	out := s.Summary()
	if n := len(s.Notes()); n > 0 {
		out += fmt.Sprintf(" · %d parse note%s", n, plural(n))
	}
	if s.Origin() == airudder.OriginBackfill {
		out += " · backfilled"
	}
	return payload.CutJSON(out, payload.SummaryTextLimit)
}

func subjectDetails(s airudder.Subject) string {
	if s.IsCall() {
		return details(*s.Call)
	}
	return eventDetails(*s.Event)
}

// signalStartOptions are the options of a signal-with-start of a revision: the running workflow of that
// ID takes the signal; a closed one gets a new run.
func signalStartOptions(id string, attrs []temporal.SearchAttributeUpdate, summary, details, queue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                TaskQueueOr(queue),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(attrs...),
		StaticSummary:            summary,
		StaticDetails:            details,
	}
}

// Summary is the one line that the Temporal UI shows for a call's workflow, cut to fit Temporal's limit
// on summaries (payload.SummaryTextLimit).
func Summary(rc airudder.ReceivedCall) string {
	s := summary(rc)
	if n := len(rc.ParseNotes); n > 0 {
		s += fmt.Sprintf(" · %d parse note%s", n, plural(n))
	}
	return payload.CutJSON(s, payload.SummaryTextLimit)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func summary(rc airudder.ReceivedCall) string {
	c := rc.Call
	intention := c.Intention
	if c.IntentionDescription != "" {
		intention += " (" + c.IntentionDescription + ")"
	}
	if intention == "" {
		intention = "no intention"
	}
	s := fmt.Sprintf("Call to %s: %s, %s", airudder.MaskPhone(c.CalleeNumber), intention, orDash(c.Status))
	if c.CaseID != "" {
		s += ", case " + c.CaseID
	}
	return s
}

func details(rc airudder.ReceivedCall) string {
	c := rc.Call
	var b strings.Builder
	fmt.Fprintf(&b, "**Source** %s · **Task** %s (%s)\n\n", rc.Source, orDash(rc.Task.TaskName), orDash(rc.Task.TaskID))
	fmt.Fprintf(&b, "**Airudder workflow** %s · **Node** %s\n\n", orDash(rc.Task.WorkflowName), orDash(rc.Task.NodeTaskName))
	fmt.Fprintf(&b, "**Ring** %s · **Hang-up** %s", orDash(c.RingType), orDash(c.HangupType))
	if c.CallStartTime != nil {
		fmt.Fprintf(&b, " · **Started** %s", c.CallStartTime.Format(time.RFC3339))
	}
	if c.TalkRound != nil {
		fmt.Fprintf(&b, " · **Talk rounds** %d", *c.TalkRound)
	}
	fmt.Fprintf(&b, " · **Redials** %d", len(c.RedialCalls))
	return detailsEnd(&b, rc.ParseNotes, rc.Digest)
}

// detailsEnd ends the details of a call's or an event's workflow: its parse notes and delivery digest, cut
// to Temporal's limit on details.
func detailsEnd(b *strings.Builder, notes []airudder.ParseNote, digest string) string {
	if len(notes) > 0 {
		b.WriteString("\n\n**Parse notes** (kept as sent, not typed):")
		for _, n := range notes {
			fmt.Fprintf(b, "\n- %s: %s", payload.Cut(n.Field, 100), payload.Cut(n.Why, 200))
		}
	}
	if digest != "" {
		fmt.Fprintf(b, "\n\n**Delivery digest** %.12s", digest)
	}
	return payload.CutJSON(b.String(), payload.DetailsTextLimit)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// EventWorkflowID is the ID of the workflow that handles one event of a callback kind other than call
// completion: "event/{source}/{kind}/{key}", kind being the route name ("list-completed", "pds").
func EventWorkflowID(source, kind, key string) string {
	return "event/" + source + "/" + kind + "/" + key
}

// EventWorkflowIDOf is the ID of the workflow of ev (see EventWorkflowID).
func EventWorkflowIDOf(ev airudder.Event) string { return EventWorkflowID(ev.Source, ev.Kind, ev.Key) }

// EventSearchAttributes are the values of the custom search attributes for one event: Source and Kind
// always, CaseID, CallID, CalleeNumber and TaskID where the kind has them. Values are cut as for calls.
func EventSearchAttributes(ev airudder.Event) []temporal.SearchAttributeUpdate {
	return keywords(
		keyword{SourceKey, ev.Source},
		keyword{KindKey, ev.On},
		keyword{CaseIDKey, ev.CaseID},
		keyword{CallIDKey, ev.CallID},
		keyword{CalleeNumberKey, calleeNumber(ev.CalleeNumberHMAC, ev.CalleeNumber)},
		keyword{TaskIDKey, ev.TaskID},
	)
}

// EventSummary is the one line the Temporal UI shows for an event's workflow: what the parser made of it
// (phone numbers masked), and how many fields were kept as sent.
func EventSummary(ev airudder.Event) string {
	s := ev.Summary
	if s == "" {
		s = ev.On + " " + ev.Key
	}
	if n := len(ev.Notes); n > 0 {
		s += fmt.Sprintf(" · %d parse note%s", n, plural(n))
	}
	return payload.CutJSON(s, payload.SummaryTextLimit)
}

func eventDetails(ev airudder.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Source** %s · **Kind** %s (%s) · **Key** %s", ev.Source, ev.Kind, ev.On, payload.Cut(ev.Key, 120))
	if ev.Time != nil {
		fmt.Fprintf(&b, " · **Happened** %s", ev.Time.Format(time.RFC3339))
	}
	if ev.Call != nil {
		fmt.Fprintf(&b, "\n\n**Call** %s (its own workflow)", CallWorkflowID(ev.Call.Source, ev.Call.Key))
	}
	return detailsEnd(&b, ev.Notes, ev.Digest)
}

// UILink is the Temporal Web UI page of a workflow, given the UI's base URL and the namespace.
func UILink(uiBase, namespace, workflowID string) string {
	if uiBase == "" {
		return ""
	}
	return strings.TrimRight(uiBase, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
}

// ReconcileWorkflowID is the ID of a run of ReconcileWorkflow on demand: "reconcile/{source}/{stamp}",
// stamp telling runs apart (the time it was asked for, to the nanosecond).
func ReconcileWorkflowID(source string, at time.Time) string {
	return "reconcile/" + source + "/" + at.UTC().Format("20060102T150405.000000000Z")
}

// ReconcileScheduleID is the Temporal Schedule of a source's reconciliation (worker.EnsureSchedules);
// its runs are ScheduledReconcileID, with the time the Schedule appends.
func ReconcileScheduleID(source string) string { return "rudderhook-reconcile-" + source }

// ScheduledReconcileID is the ID the Schedule gives a scheduled run of a source's reconciliation, before
// it appends the time: "reconcile/{source}/scheduled".
func ScheduledReconcileID(source string) string { return "reconcile/" + source + "/scheduled" }

// ExpectationsScheduleID is the Temporal Schedule that sweeps the re-calls' expectations; its runs are
// "expectations/sweep" with the time appended.
const ExpectationsScheduleID = "rudderhook-expectations"

// ReconcileStartOptions start an on-demand run of ReconcileWorkflow on queue.
func ReconcileStartOptions(id, source string, from, to time.Time, queue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             TaskQueueOr(queue),
		StaticSummary:         fmt.Sprintf("Reconcile %s from %s to %s", source, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)),
		TypedSearchAttributes: temporal.NewSearchAttributes(keywords(keyword{SourceKey, source})...),
	}
}
