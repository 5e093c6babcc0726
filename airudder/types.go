// Package airudder holds the shapes of what Airudder sends us and what we send to Airudder: the
// call-completion callback, its Sign, and the values (times, dates, money) that need care to keep exact;
// and Client, which calls Airudder's open API (endpoints.go says where, and how sure we are of it). Its
// subpackage airuddertest is a fake of that API for tests.
//
// It is a leaf package: every layer (api, activities, workflows, store, rules) may import it, and it
// imports none of them. JSON tags follow Airudder's spelling; Go names follow Go's.
package airudder

import (
	"encoding/json"
	"time"

	"github.com/rudderhook/rudderhook/payload"
)

// Task is the envelope of a call-completion callback: the Airudder workflow node whose calls ended.
// The field names are Airudder's, including its mix of snake_case and PascalCase.
type Task struct {
	WorkflowID   string `json:"workflow_id"`
	WorkflowName string `json:"workflow_name"`
	NodeTaskID   string `json:"nodetask_id"`
	NodeTaskName string `json:"nodetask_name"`
	TaskID       string `json:"TaskID"`
	TaskName     string `json:"TaskName"`
}

// CallCompleted is one parsed "Workflow call completion" callback: an envelope and one or more calls.
type CallCompleted struct {
	Task
	Sign    string `json:"Sign"`
	Details []Call `json:"Details"`
	// RawTask is the envelope as received, without Details, so that fields Airudder adds later are kept.
	RawTask json.RawMessage `json:"-"`
}

// Call is one element of Details: the outcome of one callee's call, after any redials.
//
// Strings that Airudder may omit are plain strings (absent and empty mean the same to Airudder); numbers,
// times, dates and amounts are pointers so that "absent" stays distinguishable from zero.
type Call struct {
	ID                   *int64          `json:"id"`
	RobotID              string          `json:"RobotID"`
	CalleeName           string          `json:"CalleeName"`
	CalleeGender         string          `json:"CalleeGender"`
	CalleeNumber         string          `json:"CalleeNumber"`
	CallStartTime        *time.Time      `json:"CallStartTime"`
	CallEndTime          *time.Time      `json:"CallEndTime"`
	Status               string          `json:"Status"`
	Intention            string          `json:"Intention"`
	IntentionDescription string          `json:"intention_description"`
	CallID               string          `json:"CallID"`
	CallTimes            *int64          `json:"CallTimes"`
	Comments             string          `json:"Comments"`
	BorrowedDate         *Date           `json:"BorrowedDate"`
	DueDate              *Date           `json:"DueDate"`
	BorrowedAmount       *Decimal        `json:"BorrowedAmount"`
	TotalOwingAmount     *Decimal        `json:"TotalOwingAmount"`
	CurrencyUnit         string          `json:"CurrencyUnit"`
	PlatformName         string          `json:"PlatformName"`
	RingType             string          `json:"RingType"`
	HangupType           string          `json:"HangupType"`
	ExtraA               string          `json:"ExtraA"`
	ExtraB               string          `json:"ExtraB"`
	ExtraC               string          `json:"ExtraC"`
	NerSlots             json.RawMessage `json:"NerSlots"`
	AsrResult            []AsrEntry      `json:"AsrResult"`
	AskWhatsApp          string          `json:"AskWhatsAPP"`
	AsrPTP               string          `json:"AsrPTP"`
	MultiIntention       json.RawMessage `json:"Multi_intention"`
	EventLabel           json.RawMessage `json:"EventLabel"`
	RingTime             *int64          `json:"RingTime"`
	TalkRound            *int64          `json:"TalkRound"`
	RedialCalls          []Redial        `json:"RedailCall"`
	CaseID               string          `json:"CaseID"`
	Variables            json.RawMessage `json:"Variables"`
	CallerNumber         string          `json:"caller_number"`

	// Raw is the element of Details exactly as received, unknown fields included.
	Raw json.RawMessage `json:"-"`
}

// AsrEntry is one line of the call's transcript.
type AsrEntry struct {
	Time      string `json:"time"`
	RobotText string `json:"robottext"`
	Text      string `json:"text"`
}

// Redial is one earlier attempt to reach the callee (Airudder spells the list "RedailCall").
type Redial struct {
	CallID        string     `json:"CallID"`
	CallStartTime *time.Time `json:"CallStartTime"`
	RingType      string     `json:"RingType"`
	RingTime      *int64     `json:"RingTime"`
	HangupType    string     `json:"HangupType"`
	ResultLabel   string     `json:"ResultLabel"`
	CalleeNumber  string     `json:"callee_number"`
	CallerNumber  string     `json:"caller_number"`
}

// Known values of the spec's enums. Airudder may add values; unknown ones are stored as they come.
const (
	StatusCreated   = "created"
	StatusPending   = "pending"
	StatusFinished  = "finished"
	StatusCancelled = "cancelled"
	StatusFailed    = "failed"

	RingTypeBusy        = "busy"
	RingTypeCantUse     = "cantuse"
	RingTypeHoldLine    = "holdline"
	RingTypeSwitchOff   = "switchoff"
	RingTypeOutOfArea   = "outofarea"
	RingTypeUnregister  = "unregister"
	RingTypeWrongNum    = "wrongnum"
	RingTypeNotMatch    = "notmatch"
	RingTypeNormal      = "normal"
	RingTypeNull        = "null" // Airudder sends the string "null", not JSON null
	HangupTypeByCallee  = "ByCallee"
	HangupTypeByRobot   = "ByRobot"
	HangupTypeCancelled = "Canceled"
)

// Key is what identifies a call within a source: its CallID, or "{TaskID}/{id}" when Airudder sent no
// CallID. It is empty when neither is available.
func (c *Call) Key(taskID string) string {
	if c.CallID != "" {
		return c.CallID
	}
	if taskID != "" && c.ID != nil {
		return taskID + "/" + formatInt(*c.ID)
	}
	return ""
}

// ReceivedCall is one call as rudderhook received it: an element of Details with the envelope it came in
// and the source that received it. It is the input of the call's workflow and what the store keeps.
type ReceivedCall struct {
	Source     string          `json:"source"`
	Key        string          `json:"key"`
	ReceivedAt time.Time       `json:"received_at"`
	Task       Task            `json:"task"`
	RawTask    json.RawMessage `json:"raw_task"`
	Call       Call            `json:"call"`
	RawCall    json.RawMessage `json:"raw_call"`
}

// Received splits a callback into its calls, as received by source at the given time.
func (cc *CallCompleted) Received(source string, at time.Time) []ReceivedCall {
	out := make([]ReceivedCall, len(cc.Details))
	for i, c := range cc.Details {
		out[i] = ReceivedCall{
			Source:     source,
			Key:        c.Key(cc.TaskID),
			ReceivedAt: at,
			Task:       cc.Task,
			RawTask:    cc.RawTask,
			Call:       c,
			RawCall:    c.Raw,
		}
	}
	return out
}

// Large reports whether the call is too large to carry whole in a workflow's input (see package
// payload): it is stored in PostgreSQL first and its workflow gets a slim copy (see Slim).
func (rc ReceivedCall) Large() bool { return !payload.Fits(len(rc.RawCall) + len(rc.RawTask)) }

// Slim is the call without its bulk (transcript, free-form objects, redials, raw JSON): what a workflow
// needs to name and find it. The whole call is read back from the store.
func (rc ReceivedCall) Slim() ReceivedCall {
	c := rc.Call
	rc.RawCall, rc.RawTask = nil, nil
	rc.Call = Call{
		ID: c.ID, CallID: c.CallID, CaseID: c.CaseID, CalleeNumber: c.CalleeNumber, Status: c.Status,
		Intention: c.Intention, IntentionDescription: c.IntentionDescription, RingType: c.RingType,
		HangupType: c.HangupType, CallStartTime: c.CallStartTime, CallEndTime: c.CallEndTime, TalkRound: c.TalkRound,
	}
	return rc
}
