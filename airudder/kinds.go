package airudder

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Route names of the callback kinds rudderhook knows: the last segment of /webhooks/{source}/{kind}.
const (
	KindCallCompleted       = "call-completed"
	KindInfoCheckCompleted  = "info-check-completed"
	KindListCompleted       = "list-completed"
	KindStatusChanged       = "status-changed"
	KindQAResult            = "qa-result"
	KindPDS                 = "pds"
	KindChatbotSessionEnded = "chatbot-session-ended"
)

// Kind is one kind of callback: how it is routed, named in rules, checked and read. Routes, rules, `send`
// and the docs all take kinds from here (Kinds, KindByRoute, KindByOn, GenericKind).
type Kind struct {
	// Route is the kind's URL segment: /webhooks/{source}/{Route} and /webhooks/{source}/{token}/{Route}.
	Route string
	// On are the names rules give its events (`on: list_completed`), one per event type: a PDS body is
	// one of three ("pds.task_status", "pds.contact_status", "pds.agent_status").
	On []string
	// Title is what Airudder's documentation calls the callback.
	Title string
	// Signed kinds carry Sign = md5(TaskID + key): verify it with Document.Signed and VerifySign before
	// reading the body. The others must be taken only on a source with a URL token or an IP allowlist.
	Signed bool
	// SignHeader names a request header that signs the kind in a scheme Airudder does not document
	// (X-AIRudder-Sign): it is kept with the event (WithHeaders), not verified, and the kind counts as
	// unsigned until its scheme is known.
	SignHeader string
	// Typed kinds are read into typed fields; a generic kind is kept as JSON with its key.
	Typed bool
	// Calls: the body carries calls (Details[]): read it with ReadCalls, and every call takes the call
	// path (call/{source}/{key}). Otherwise read it with ReadEvent.
	Calls bool
	// Examples are bodies of the kind, signed for DefaultKey where the kind is signed; generic kinds have
	// none. Shared: do not modify.
	Examples []Example
	// KeyFields are the JSON paths a generic kind's idempotency key is made of (see GenericKind).
	KeyFields []string

	read func(Kind, *Document, ParseOptions) (*Event, error)
}

// Example is one example body of a kind.
type Example struct {
	// Name says which example it is: the rules' name of its event ("pds.agent_status").
	Name string
	Body []byte
}

// The rules' names of calls (see Subject.On), and of a chatbot session end.
const (
	onCallCompleted       = "call_completed"
	onInfoCheckCompleted  = "info_check_completed"
	onChatbotSessionEnded = "chatbot_session_ended"
)

var builtinKinds = []Kind{
	{Route: KindCallCompleted, On: []string{onCallCompleted}, Signed: true, Typed: true, Calls: true,
		Title:    "Notification of Call Completion in Workflow (Debt Collection/Marketing/E-commerce)",
		Examples: []Example{{onCallCompleted, ExampleCallCompleted}}},
	// The seed lists the info-check variant by title only and shows no body; its detail query has the
	// same two variants with one shape, so it is read as a call completion whose template-specific fields
	// (Variables, NerSlots, EventLabel, unknown ones) are kept as sent. Its example is the call
	// completion's.
	{Route: KindInfoCheckCompleted, On: []string{onInfoCheckCompleted}, Signed: true, Typed: true, Calls: true,
		Title:    "Notification of Call Completion in Workflow (Info Check)",
		Examples: []Example{{onInfoCheckCompleted, ExampleCallCompleted}}},
	{Route: KindListCompleted, On: []string{"list_completed"}, Typed: true, read: readListCompleted,
		Title:    "Notification for Workflow List Completion",
		Examples: []Example{{"list_completed", ExampleListCompleted}}},
	{Route: KindStatusChanged, On: []string{"status_changed"}, Typed: true, read: readStatusChanged,
		Title:    "Notification of Workflow Status Change",
		Examples: []Example{{"status_changed", ExampleStatusChanged}}},
	{Route: KindQAResult, On: []string{"qa_result"}, Signed: true, Typed: true, read: readQAResult,
		Title:    "Recording quality check (QA) result",
		Examples: []Example{{"qa_result", ExampleQAResult}}},
	{Route: KindPDS, On: []string{onPDSTaskStatus, onPDSContactStatus, onPDSAgentStatus}, Typed: true, read: readPDS,
		Title: "Webhooks of the Info of Predictive Dialer System",
		Examples: []Example{{onPDSTaskStatus, ExamplePDSTaskStatus}, {onPDSContactStatus, ExamplePDSContactStatus},
			{onPDSAgentStatus, ExamplePDSAgentStatus}}},
	{Route: KindChatbotSessionEnded, On: []string{onChatbotSessionEnded}, Typed: true, SignHeader: ChatbotSignHeader,
		read: readChatbotSessionEnded, Title: "Notification of Chatbot Session End",
		Examples: []Example{{onChatbotSessionEnded, ExampleChatbotSessionEnded}}},
}

// Kinds are the kinds rudderhook knows, in the order of the docs. Generic kinds are per source (GenericKind).
func Kinds() []Kind { return slices.Clone(builtinKinds) }

// KindRoutes are the route names of Kinds, for help texts and errors.
func KindRoutes() []string {
	out := make([]string, len(builtinKinds))
	for i, k := range builtinKinds {
		out[i] = k.Route
	}
	return out
}

// KindByRoute finds a known kind by its route name.
func KindByRoute(route string) (Kind, bool) {
	i := slices.IndexFunc(builtinKinds, func(k Kind) bool { return k.Route == route })
	if i < 0 {
		return Kind{}, false
	}
	return builtinKinds[i], true
}

// KindByOn finds the known kind whose events rules name on ("pds.agent_status" is the pds kind's).
func KindByOn(on string) (Kind, bool) {
	i := slices.IndexFunc(builtinKinds, func(k Kind) bool { return slices.Contains(k.On, on) })
	if i < 0 {
		return Kind{}, false
	}
	return builtinKinds[i], true
}

var (
	routePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	// keyFieldPattern is a dot path of names, each maybe with array indexes: "message.id", "items[0].id".
	keyFieldPattern = regexp.MustCompile(`^[^.\[\]]+(\[[0-9]+\])*(\.[^.\[\]]+(\[[0-9]+\])*)*$`)
)

const maxRouteLength = 64

// GenericKind is a kind a source lists that rudderhook has no type for (WABA message status, chatbot
// session end, custom API node push, …): any JSON object is taken, kept whole, and its idempotency key
// is made of the values at keyFields (dot paths such as "message.id" or "items[0].id", joined with "/"),
// or, when keyFields is empty or one of them is missing, is "sha256:" and a hash of the body (with a note
// naming the missing field). Its rules' name is the route with "-" as "_" ("waba-status" → waba_status).
// Generic kinds are unsigned. The route must be lowercase words joined by "-", and not a known kind's.
func GenericKind(route string, keyFields []string) (Kind, error) {
	switch {
	case !routePattern.MatchString(route) || len(route) > maxRouteLength:
		return Kind{}, fmt.Errorf("kind %q: must be lowercase letters and digits in words joined by \"-\", at most %d characters", route, maxRouteLength)
	case slices.Contains(KindRoutes(), route):
		return Kind{}, fmt.Errorf("kind %q: is a built-in kind; list only kinds rudderhook has no type for", route)
	}
	for _, f := range keyFields {
		if !keyFieldPattern.MatchString(f) {
			return Kind{}, fmt.Errorf("kind %q: key field %q: must be a dot path of field names, such as message.id or items[0].id", route, f)
		}
	}
	return Kind{Route: route, On: []string{strings.ReplaceAll(route, "-", "_")}, Title: "Generic callback " + route,
		KeyFields: slices.Clone(keyFields), read: readGeneric}, nil
}

// ReadEvent reads a decoded body as an event of kind k (not for a kind whose body carries calls). A body
// that is not the kind's envelope is a *ValidationError naming what is wrong, and nothing of it should
// be kept; every other odd value is kept as sent, with a parse note. Check the Sign first where k.Signed.
func (k Kind) ReadEvent(doc *Document, opts ParseOptions) (*Event, error) {
	if k.Calls || k.read == nil {
		return nil, fmt.Errorf("kind %q carries calls, or is not a kind of this package: read it with ReadCalls", k.Route)
	}
	ev, err := k.read(k, doc, opts)
	if err != nil {
		return nil, err
	}
	ev.CalleeNumberHMAC = opts.Numbers.CalleeSearch(ev.CalleeNumber)
	if ev.Call != nil {
		ev.Call.CalleeNumberHMAC = opts.Numbers.CalleeSearch(ev.Call.Call.CalleeNumber)
	}
	return ev.finish(), nil
}

// ReadCalls reads a decoded body of a kind that carries calls (call completion, info check), as
// Document.CallCompleted does; the calls it gives know their kind (ReceivedCall.Kind).
func (k Kind) ReadCalls(doc *Document, opts ParseOptions) (*CallCompleted, error) {
	if !k.Calls {
		return nil, fmt.Errorf("kind %q carries no calls: read it with ReadEvent", k.Route)
	}
	cc, err := doc.CallCompleted(opts)
	if err != nil {
		return nil, err
	}
	if k.Route != KindCallCompleted {
		cc.Kind = k.Route
	}
	return cc, nil
}
