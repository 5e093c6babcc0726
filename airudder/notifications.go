package airudder

import (
	"fmt"
	"strings"
)

// The workflow family's notifications besides call completion. Their shapes come from a public
// integrator's code, not from the seed (which lists them by title only): the parsers require only what
// identifies the kind, and keep every other field as sent.

// NodeTask is one node of an Airudder workflow and the task it ran.
type NodeTask struct {
	NodeTaskID   string `json:"nodetask_id"`
	NodeTaskName string `json:"nodetask_name"`
	NodeType     string `json:"node_type"` // "call", "waba", …
	TaskID       string `json:"task_id"`
}

// ListCompleted is a "Notification for Workflow List Completion": one entry of a workflow's list (a case,
// a callee) has been through every node.
type ListCompleted struct {
	WorkflowID   string     `json:"workflow_id"`
	WorkflowName string     `json:"workflow_name"`
	CaseID       string     `json:"case_id"`
	CalleeNumber string     `json:"callee_number"`
	Rows         []NodeTask `json:"rows"`
}

// StatusChanged is a "Notification of Workflow Status Change": a workflow task's new status and its nodes'.
type StatusChanged struct {
	WorkflowID   string           `json:"workflow_id"`
	WorkflowName string           `json:"workflow_name"`
	Status       string           `json:"status"`
	Actions      []NodeTaskStatus `json:"actions"`
}

// NodeTaskStatus is a node of a workflow whose status changed, with its task's status.
type NodeTaskStatus struct {
	NodeTask
	TaskStatus string `json:"task_status"`
}

func readNodeTask(r reader) NodeTask {
	return NodeTask{NodeTaskID: r.str("nodetask_id"), NodeTaskName: r.str("nodetask_name"),
		NodeType: r.str("node_type"), TaskID: r.str("task_id")}
}

// readListCompleted reads a list completion. Its envelope: a workflow_id, and what the list entry is (a
// case_id, a callee_number or rows); a body with Details is a call completion sent to the wrong URL.
//
// Key: workflow_id/case_id/callee_number, the number hashed with the installation's key (keys become
// workflow IDs, which are logged and shown in Temporal; neither shows a phone number, see phoneKey). A
// list entry completes a workflow once, and these are all that name the entry (the body carries neither
// a list ID nor a status); an identical redelivery has the same key, a corrected one becomes a revision.
// Without case_id and callee_number, the hash of the body.
func readListCompleted(k Kind, d *Document, opts ParseOptions) (*Event, error) {
	ev, r, err := newEvent(k, k.On[0], d, &opts)
	if err != nil {
		return nil, err
	}
	var errs []FieldError
	notCallCompletion(d, &errs)
	lc := &ListCompleted{WorkflowID: required(r, "workflow_id", &errs), WorkflowName: r.str("workflow_name"),
		CaseID: r.str("case_id"), CalleeNumber: r.str("callee_number")}
	r.each("rows", func(e reader) { lc.Rows = append(lc.Rows, readNodeTask(e)) })
	if _, rows := r.get("rows"); lc.CaseID == "" && lc.CalleeNumber == "" && !rows {
		errs = append(errs, FieldError{Field: "case_id", Message: "is required, or callee_number, or rows: a list completion names its list entry"})
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	ev.ListCompleted = lc
	ev.CaseID, ev.CalleeNumber = lc.CaseID, lc.CalleeNumber
	for _, row := range lc.Rows {
		if row.TaskID != "" {
			ev.TaskID = row.TaskID // the first task that ran for the entry: enough to find it by task
			break
		}
	}
	if lc.CaseID == "" && lc.CalleeNumber == "" {
		r.note("case_id", nil, "is missing, and so is callee_number: the event's key is the hash of its body")
		ev.Key = bodyHashKey(ev.Raw)
	} else {
		ev.Key = keyOf(lc.WorkflowID, lc.CaseID, phoneKey(lc.CalleeNumber, opts.Numbers))
	}
	ev.Summary = fmt.Sprintf("List entry done in workflow %s: case %s, %s, %s", nameOrID(lc.WorkflowName, lc.WorkflowID),
		orDash(lc.CaseID), maskedOrDash(lc.CalleeNumber), plural(len(lc.Rows), "node"))
	return ev, nil
}

// readStatusChanged reads a workflow status change. Its envelope: a workflow_id and a status.
//
// Key: workflow_id/status. The body has no time or sequence number, so a workflow that is reported in the
// same status twice reads as one event (a different body: a revision of it); a redelivery is a duplicate.
func readStatusChanged(k Kind, d *Document, opts ParseOptions) (*Event, error) {
	ev, r, err := newEvent(k, k.On[0], d, &opts)
	if err != nil {
		return nil, err
	}
	var errs []FieldError
	notCallCompletion(d, &errs)
	sc := &StatusChanged{WorkflowID: required(r, "workflow_id", &errs), WorkflowName: r.str("workflow_name"),
		Status: required(r, "status", &errs)}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	r.each("actions", func(e reader) {
		sc.Actions = append(sc.Actions, NodeTaskStatus{NodeTask: readNodeTask(e), TaskStatus: e.str("task_status")})
	})
	ev.StatusChanged = sc
	for _, a := range sc.Actions {
		if a.TaskID != "" {
			ev.TaskID = a.TaskID
			break
		}
	}
	ev.Key = keyOf(sc.WorkflowID, sc.Status)
	var nodes []string
	for _, a := range sc.Actions {
		nodes = append(nodes, nameOrID(a.NodeTaskName, a.NodeTaskID)+" "+orDash(a.TaskStatus))
	}
	ev.Summary = fmt.Sprintf("Workflow %s is %s", nameOrID(sc.WorkflowName, sc.WorkflowID), sc.Status)
	if len(nodes) > 0 {
		ev.Summary += ": " + strings.Join(nodes, ", ")
	}
	return ev, nil
}

// required reads a string field that the envelope cannot do without: absent, null, empty or not text
// makes an envelope error (a number is taken as its text, with a note, as everywhere).
func required(r reader, name string, errs *[]FieldError) string {
	v := r.str(name)
	if v != "" {
		return v
	}
	raw, ok := r.get(name)
	switch {
	case !ok:
		*errs = append(*errs, FieldError{Field: r.fieldPath(name), Message: "is required"})
	case kindOf(raw) == "string":
		*errs = append(*errs, FieldError{Field: r.fieldPath(name), Message: "must not be empty"})
	default:
		*errs = append(*errs, FieldError{Field: r.fieldPath(name), Message: "must be a string, got " + kindOf(raw)})
	}
	return ""
}

// notCallCompletion refuses a call completion posted to another kind's URL: its calls would otherwise be
// kept as an event that no call's workflow ever sees.
func notCallCompletion(d *Document, errs *[]FieldError) {
	if _, ok := d.fields["Details"]; ok {
		*errs = append(*errs, FieldError{Field: "Details", Message: "belongs to a call completion: post it to /webhooks/{source}/" + KindCallCompleted + " (or " + KindInfoCheckCompleted + ")"})
	}
}

func maskedOrDash(number string) string {
	if number == "" {
		return "–"
	}
	return MaskPhone(number)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
