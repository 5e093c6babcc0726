package airudder

// Where Airudder's open API is, and how it spells things.
//
// This file is the one place to correct when Airudder's real API turns out to differ from what we know:
// every path, header, time layout and field name the client sends or reads is here, each with how sure we
// are of it. "seen" means read in Airudder's vendor text or in a public integrator's working code;
// "inferred" means deduced from a title, a cut-off excerpt or a sibling API; "guess" means nothing backs it
// yet and it must be confirmed with Airudder before it is relied on. Sources are summarised in the
// team's notes on Airudder's API (airudder-api.md).
//
// Airudder's API comes in families, each with its own token request and its own answer envelope. The
// client speaks two of them:
//
//   - the workflow family (the seed's): tokens from WorkflowAuthPath, envelope {"code": 200, "data": …};
//   - the PDS family (predictive dialer): tokens from PDSAuthPath under the PDS base, envelope
//     {"code": 0, "message": "successfully", "body": …}.

// DefaultBaseURL is where Airudder's open API lives when the configuration names no other base (seen).
const DefaultBaseURL = "https://api.airudder.com"

// Workflow family paths, relative to the base URL.
const (
	// WorkflowAuthPath issues a token for JSON {APPKey, APPSecret}, in data.token (seen, vendor text).
	WorkflowAuthPath = "/service/cloud/auth"
	// CreateInstancePath starts a new workflow task from a template (seen, vendor text). Its body names
	// no callees: they are added with UploadDetails.
	CreateInstancePath = "/service/cloud/workflow/createinstance"
	// UploadDetailsPath adds callees to a workflow task: "add lists to a workflow task" (title seen,
	// vendor); path and body seen in a public third-party client's code, not in vendor text.
	UploadDetailsPath = "/service/cloud/workflow/uploaddetails"
	// DefaultCancelContactPath cancels the remaining steps for one number of a task. A GUESS: the vendor
	// lists this API by title only. Override it with WithCancelContactPath once Airudder confirms it.
	DefaultCancelContactPath = "/service/cloud/workflow/cancelcontact"
)

// PDS family paths. The PDS base is a path prefix under the base URL (or a URL of its own, see
// WithPDSBase); the other paths are relative to it.
const (
	// DefaultPDSBasePath is the PDS family's prefix. Inferred: the notes write it as
	// "…/service/callcenter/call/predict", and a public integrator uses this prefix on its own base URL,
	// but whether it sits on DefaultBaseURL's host is not known.
	DefaultPDSBasePath = "/service/callcenter/call/predict"
	// PDSAuthPath issues a token for form-encoded APPKey and APPSecret, in body.token (seen).
	PDSAuthPath = "/auth"
	// PDSCancelTaskContactsPath cancels the pending calls of numbers in a PDS task (seen).
	PDSCancelTaskContactsPath = "/canceltaskcontacts"
	// PDSCaseRecordingPath answers the recording link of one call: {"callid": …} → body.link, a WAV
	// fetched with a plain GET (seen).
	PDSCaseRecordingPath = "/case/recording"
)

// TimeLayout is how Airudder reads every time we send it: "YYYY-MM-DD HH:MM:SS" in the account's own
// zone, without an offset. Inferred: the createinstance excerpt cuts off before the format, and every
// other Airudder time input (PDS createtask, querytasklist) is written this way (seen there).
const TimeLayout = "2006-01-02 15:04:05"

const (
	// authHeader and tokenScheme carry a token on every call of both families: "Authorization: Token <t>"
	// (seen in the workflow family's vendor examples, and in a public integrator's PDS client; the notes'
	// "Token <t>" for PDS is that same header's value).
	authHeader  = "Authorization"
	tokenScheme = "Token "

	// workflowSuccessCode and pdsSuccessCode are the envelope codes of success (seen).
	workflowSuccessCode = 200
	pdsSuccessCode      = 0

	// workflowDataField and pdsDataField name the envelope member that carries the answer (seen).
	workflowDataField = "data"
	pdsDataField      = "body"
)

// PDS envelope codes with a meaning for the client (seen in a public integrator's error table unless
// noted). Every other code names a problem with the request: not retryable, and certainly without effect.
const (
	pdsCodeInternalError  = 10201 // "There is an internal service error": a failure on Airudder's side
	pdsCodeTooManyQueries = 10705 // "The number of queries exceeds the number limit": a rate limit
	// pdsCodeInvalidToken and pdsCodeExpiredToken say "user token" in the integrator's table; that they
	// also answer a refused API token is inferred, so the client renews once on them, as on a 401.
	pdsCodeInvalidToken = 10812
	pdsCodeExpiredToken = 10813
)

// Request bodies, with Airudder's field names in their JSON tags.

// credentials is the workflow family's token request (JSON) and, as form fields, the PDS family's.
type credentials struct {
	APPKey    string `json:"APPKey"`
	APPSecret string `json:"APPSecret"`
}

// tokenData is where both families put the token in their answer's data (workflow) or body (PDS) (seen).
type tokenData struct {
	Token string `json:"token"`
}

// createInstanceBody is createinstance's request, every field as the vendor text lists it (seen): it
// carries no callees, which UploadDetails adds to the new task.
type createInstanceBody struct {
	WorkflowTemplateID   int64  `json:"workflow_template_id"`             // integer, required
	Name                 string `json:"name"`                             // required; unique (see duplicateNameCodes)
	EndTime              string `json:"end_time"`                         // required, TimeLayout (format inferred)
	WorkflowTemplateName string `json:"workflow_template_name,omitempty"` // optional
	WorkflowName         string `json:"workflow_name,omitempty"`          // optional
	AutoFinish           *int   `json:"auto_finish,omitempty"`            // optional int, Airudder's default 2
}

// AutoFinish values: createinstance's auto_finish is an int whose default is 2 (seen); that 1 finishes
// the task by itself and 2 does not is inferred (the excerpt does not say, and Airudder's other switches
// are 1 and 2 in this way), so rules may set only these two.
const (
	AutoFinishYes = 1
	AutoFinishNo  = 2
)

// duplicateNameCodes and duplicateNameWords tell an answer that refuses a task's name as taken. PDS's
// createtask answers 10508 "duplicate task name" (seen); that createinstance refuses a taken name, and
// how, is inferred: the same code, or a message that says so.
var (
	duplicateNameCodes = []int{10508}
	duplicateNameWords = []string{"duplicate", "already exist", "重复", "已存在"}
)

// createInstanceIDField is the member of createinstance's data that names the new workflow task.
// Inferred from the API's title; read leniently as a string or a number.
const createInstanceIDField = "workflow_id"

// uploadDetailsBody is uploaddetails' request, {workflow_id, details: [{callee, variables}]}, every
// variable a string (seen in a third-party client's code, not in vendor text).
type uploadDetailsBody struct {
	WorkflowID string   `json:"workflow_id"`
	Details    []Detail `json:"details"`
}

// cancelContactBody is the workflow family's "cancel the remaining steps for one number of a task".
// A GUESS, like its path: snake_case as in the family's other requests.
type cancelContactBody struct {
	TaskID string `json:"task_id"`
	Callee string `json:"callee"`
}

// pdsCancelBody is canceltaskcontacts' request (seen), with its capital TaskID.
type pdsCancelBody struct {
	ContactList []string `json:"contactList"`
	TaskID      string   `json:"TaskID"`
}

// cancelledListFields and cancelledNumberFields are where a cancel answer may list the numbers it
// cancelled. The PDS answer's body "lists the numbers actually cancelled" (seen) in a shape not recorded;
// the workflow family's answer is unknown. The client reads a list found directly in the data, or under
// one of cancelledListFields, of strings or of objects naming the number under one of
// cancelledNumberFields (all inferred).
var (
	cancelledListFields   = []string{"contactList", "cancelled", "canceled", "list", "callees", "numbers"}
	cancelledNumberFields = []string{"phoneNumber", "callee", "contact", "number", "phone"}
)

// Query APIs: what reconciliation (backfilling calls whose callbacks never came) and the settling of an
// unknown re-call read. See query.go.

// Workflow family query paths, relative to the base URL.
const (
	// TaskDetailPath lists the call records of workflow tasks: "Obtain the Outbound Task Details of
	// Workflow" (seen, vendor page), whose records carry the call completion's fields "with the same
	// meanings" plus workflow_id, workflow_name, nodetask_id, nodetask_name and case_id (seen). Its request
	// body is cut off in the copy we have: taskDetailBody is INFERRED.
	TaskDetailPath = "/service/cloud/workflow/taskdetail"
	// DetailInstancesPath finds the workflows a case or callee is in: "Query workflow_id using
	// case_id/callee", body case_id, callee, start_time, end_time (seen, vendor page); its answer is cut
	// off: instanceFields is INFERRED.
	DetailInstancesPath = "/service/cloud/workflow/detailinstances"
)

// PDS family query paths, relative to the PDS base.
const (
	// PDSQueryTaskListPath lists the dialer's tasks that started in a time range (seen).
	PDSQueryTaskListPath = "/querytasklist"
	// PDSQueryTaskDetailPath pages the call records of one task (seen).
	PDSQueryTaskDetailPath = "/querytaskdetail"
)

// PDSMaxRecordsPerQuery is how many records one querytaskdetail may match before Airudder refuses or
// cuts it: "about 50,000" (seen: the integrator slices a busy hour into minutes to stay under it).
// Reconciliation slices its window so that no query passes it.
const PDSMaxRecordsPerQuery = 50000

// pdsTaskListBody is querytasklist's request (seen): task start times in TimeLayout, account zone.
// Offset is INFERRED (the notes show limit only): a list shorter than the limit ends the paging either way.
type pdsTaskListBody struct {
	MinStartTime string `json:"minstarttime"`
	MaxStartTime string `json:"maxstarttime"`
	Limit        int    `json:"limit"`
	Offset       int    `json:"offset,omitempty"`
}

// pdsTaskDetailBody is querytaskdetail's request (seen): records of one task ordered by call time, in
// pages of offset and limit, optionally of calls started between minstarttime and maxstarttime
// (TimeLayout, account zone; that these bound the call time, not the task's, is inferred).
type pdsTaskDetailBody struct {
	TaskID       string `json:"taskId"`
	Offset       int    `json:"offset"`
	Limit        int    `json:"limit"`
	OrderBy      string `json:"orderBy"`
	MinStartTime string `json:"minstarttime,omitempty"`
	MaxStartTime string `json:"maxstarttime,omitempty"`
}

// pdsOrderByCallTime orders querytaskdetail's records (seen), so that pages do not overlap.
const pdsOrderByCallTime = "calltime"

// taskDetailBody is taskdetail's request: INFERRED, every field. The vendor copy is cut off before the
// body; the family writes times as start_time/end_time (detailinstances, seen) and these are taken to
// bound when calls started, pages as page (from 1) and page_size, and a workflow_id narrows to one task.
type taskDetailBody struct {
	StartTime  string `json:"start_time"`
	EndTime    string `json:"end_time"`
	Page       int    `json:"page"`
	PageSize   int    `json:"page_size"`
	WorkflowID string `json:"workflow_id,omitempty"`
}

// detailInstancesBody is detailinstances' request (seen): case_id or callee (either may be omitted),
// start_time and end_time required.
type detailInstancesBody struct {
	CaseID    string `json:"case_id,omitempty"`
	Callee    string `json:"callee,omitempty"`
	StartTime string `json:"start_time"`
	EndTime   string `json:"end_time"`
}

// Where a query's answer keeps its records: body.total and body.list[] (PDS, seen); data.total and
// data.list[] for the workflow family (INFERRED from PDS). A list given directly as the data is read too.
const (
	answerTotalField = "total"
	answerListField  = "list"
)

// Fields of the records and instances the queries answer.
var (
	// pdsTaskFields are querytasklist's task fields (seen).
	pdsTaskIDField, pdsTaskNameField, pdsTaskStateField = "taskId", "name", "state"
	// recordEnvelopeFields are the fields of a taskdetail record that a call completion carries in its
	// envelope, not in a Details element (seen: workflow_id, workflow_name, nodetask_id, nodetask_name;
	// TaskID/TaskName are taken to be spelled as in the callback, task_id/task_name read too: inferred).
	recordEnvelopeFields = map[string]string{
		"workflow_id": "workflow_id", "workflow_name": "workflow_name", "nodetask_id": "nodetask_id",
		"nodetask_name": "nodetask_name", "TaskID": "TaskID", "task_id": "TaskID", "TaskName": "TaskName",
		"task_name": "TaskName",
	}
	// recordCaseIDField is the record's case_id (seen), read as the callback's CaseID when that is absent.
	recordCaseIDField = "case_id"
	// instanceFields name what detailinstances says of each workflow (INFERRED, the answer is cut off):
	// its workflow_id (a string or a number), name, case, callee and when it was created.
	instanceWorkflowIDField, instanceNameField = "workflow_id", "workflow_name"
	instanceCaseIDField, instanceCalleeField   = "case_id", "callee"
	instanceCreatedFields                      = []string{"create_time", "created_at", "start_time"}
)
