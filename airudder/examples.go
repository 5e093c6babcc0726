package airudder

import (
	_ "embed"
	"fmt"
	"time"
)

// ExampleCallCompleted is the call-completion example of Airudder's API page, with its Sign recomputed for
// the default key "airudder". `rudderhook send` posts it when given no file, and tests start from it.
//
//go:embed testdata/call_completion.json
var ExampleCallCompleted []byte

// Examples of the other kinds (see Kinds): bodies as a public integrator's code reads them, with invented
// values; the QA result's Sign is computed for DefaultKey. See testdata/README.md for where each comes from.
var (
	//go:embed testdata/list_completed.json
	ExampleListCompleted []byte
	//go:embed testdata/status_changed.json
	ExampleStatusChanged []byte
	//go:embed testdata/qa_result.json
	ExampleQAResult []byte
	//go:embed testdata/pds_task_status.json
	ExamplePDSTaskStatus []byte
	//go:embed testdata/pds_contact_status.json
	ExamplePDSContactStatus []byte
	//go:embed testdata/pds_agent_status.json
	ExamplePDSAgentStatus []byte
	//go:embed testdata/chatbot_session_ended.json
	ExampleChatbotSessionEnded []byte
)

// DefaultKey is the Sign key Airudder uses when the integrator configures none.
const DefaultKey = "airudder"

// ExampleCalls are the calls of ExampleCallCompleted as received by source at receivedAt: what tests and
// `rudderhook rules test` start from when given no call of their own.
func ExampleCalls(source string, receivedAt time.Time) []ReceivedCall {
	doc, err := Decode(ExampleCallCompleted)
	if err != nil {
		panic("the embedded example does not decode: " + err.Error())
	}
	cc, err := doc.CallCompleted(ParseOptions{})
	if err != nil {
		panic("the embedded example does not parse: " + err.Error())
	}
	return cc.Received(source, receivedAt)
}

// ReadExampleEvent reads body as a callback of kind route (one that carries no calls), as received by
// source at receivedAt, with default settings: what tests start from.
func ReadExampleEvent(route string, body []byte, source string, receivedAt time.Time) (Event, error) {
	k, ok := KindByRoute(route)
	if !ok {
		return Event{}, fmt.Errorf("no kind %q", route)
	}
	doc, err := Decode(body)
	if err != nil {
		return Event{}, err
	}
	ev, err := k.ReadEvent(doc, ParseOptions{})
	if err != nil {
		return Event{}, err
	}
	return ev.Received(source, receivedAt), nil
}
