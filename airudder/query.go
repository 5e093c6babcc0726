package airudder

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Queries of Airudder's records: what reconciliation pages through to find calls whose callbacks never
// came (QueryTaskList and QueryTaskDetail for the PDS family, TaskDetail for the workflow family), and
// what settles a re-call of unknown outcome (DetailInstances). Every path, field and time format is in
// endpoints.go, with how sure we are of it. They read and change nothing: a failure never has an effect,
// and retrying is always safe; a Throttled error asks for a longer wait.

// TimeRange is a span of time to query, written to Airudder in the account's zone (Location, or the
// client's WithLocation). From is included; To is what Airudder's max bound says (inclusive, to the
// second): callers slice windows so that consecutive ranges share no second (see Slice).
type TimeRange struct {
	From, To time.Time
	Location *time.Location
}

// formatRange writes r's bounds for op under the names from and to.
func (c *Client) formatRange(op string, r TimeRange, from, to string) (string, string, error) {
	if r.To.Before(r.From) {
		return "", "", invalid(op, "%s is after %s", from, to)
	}
	a, err := c.formatTime(op, from, r.From, r.Location)
	if err != nil {
		return "", "", err
	}
	b, err := c.formatTime(op, to, r.To, r.Location)
	if err != nil {
		return "", "", err
	}
	return a, b, nil
}

// PDSTask is one task of the predictive dialer, as querytasklist lists it.
type PDSTask struct {
	TaskID string
	Name   string
	State  string
	// Raw is the task as listed, with every field Airudder sent.
	Raw json.RawMessage
}

// pdsTaskPage is how many tasks one querytasklist asks for: its default (seen).
const pdsTaskPage = 500

// QueryTaskList lists the PDS tasks that started within r (querytasklist), every page of them.
func (c *Client) QueryTaskList(ctx context.Context, r TimeRange) ([]PDSTask, error) {
	const op = "querytasklist"
	from, to, err := c.formatRange(op, r, "minstarttime", "maxstarttime")
	if err != nil {
		return nil, err
	}
	var out []PDSTask
	seen := map[string]bool{}
	for offset := 0; ; offset += pdsTaskPage {
		resp, err := c.call(ctx, c.pds, op, PDSQueryTaskListPath, pdsTaskListBody{MinStartTime: from, MaxStartTime: to, Limit: pdsTaskPage, Offset: offset})
		if err != nil {
			return nil, err
		}
		page, err := readPage(op, resp)
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, raw := range page.Records {
			t := PDSTask{Raw: raw, TaskID: lenientID(raw, pdsTaskIDField)}
			var fields map[string]json.RawMessage
			_ = json.Unmarshal(raw, &fields)
			t.Name, _ = unquote(fields[pdsTaskNameField])
			t.State, _ = unquote(fields[pdsTaskStateField])
			if t.TaskID == "" {
				return nil, &APIError{Op: op, HTTPStatus: 200, Message: fmt.Sprintf("a listed task has no %s: %.200s", pdsTaskIDField, raw)}
			}
			if !seen[t.TaskID] { // an API that ignores offset answers the same page again: stop there
				seen[t.TaskID] = true
				out = append(out, t)
				fresh++
			}
		}
		if len(page.Records) < pdsTaskPage || fresh == 0 {
			return out, nil
		}
	}
}

// RecordPage is one page of call records and how many the query matches in all (-1 when the answer did
// not say).
type RecordPage struct {
	Total   int
	Records []json.RawMessage
}

// TaskDetailRequest asks for one page of a PDS task's call records (querytaskdetail), ordered by call
// time. Range, when set, narrows to calls started in it.
type TaskDetailRequest struct {
	TaskID string
	Range  *TimeRange
	Offset int
	Limit  int
}

// QueryTaskDetail reads one page of a PDS task's call records. Page with Offset and Limit until a page
// holds fewer than Limit records or Offset reaches Total; keep Total under PDSMaxRecordsPerQuery by
// narrowing Range.
func (c *Client) QueryTaskDetail(ctx context.Context, req TaskDetailRequest) (*RecordPage, error) {
	const op = "querytaskdetail"
	if strings.TrimSpace(req.TaskID) == "" {
		return nil, invalid(op, "no taskId")
	}
	if req.Limit <= 0 || req.Offset < 0 {
		return nil, invalid(op, "offset %d and limit %d: want offset ≥ 0 and limit > 0", req.Offset, req.Limit)
	}
	body := pdsTaskDetailBody{TaskID: req.TaskID, Offset: req.Offset, Limit: req.Limit, OrderBy: pdsOrderByCallTime}
	if req.Range != nil {
		var err error
		if body.MinStartTime, body.MaxStartTime, err = c.formatRange(op, *req.Range, "minstarttime", "maxstarttime"); err != nil {
			return nil, err
		}
	}
	resp, err := c.call(ctx, c.pds, op, PDSQueryTaskDetailPath, body)
	if err != nil {
		return nil, err
	}
	return readPage(op, resp)
}

// WorkflowRecordsRequest asks for one page of the workflow family's call records (taskdetail) of calls
// started in Range; WorkflowID, when set, narrows to one Airudder workflow. Page counts from 1.
type WorkflowRecordsRequest struct {
	Range      TimeRange
	WorkflowID string
	Page       int
	PageSize   int
}

// TaskDetail reads one page of the workflow family's call records. Its request body is inferred (see
// taskDetailBody); its records carry the call completion's fields (see ReadWorkflowRecord).
func (c *Client) TaskDetail(ctx context.Context, req WorkflowRecordsRequest) (*RecordPage, error) {
	const op = "taskdetail"
	if req.Page < 1 || req.PageSize < 1 {
		return nil, invalid(op, "page %d and page_size %d: want both ≥ 1", req.Page, req.PageSize)
	}
	from, to, err := c.formatRange(op, req.Range, "start_time", "end_time")
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, c.workflow, op, TaskDetailPath, taskDetailBody{StartTime: from, EndTime: to, Page: req.Page, PageSize: req.PageSize, WorkflowID: req.WorkflowID})
	if err != nil {
		return nil, err
	}
	return readPage(op, resp)
}

// DetailInstancesRequest finds the Airudder workflows a callee or a case is in, created in Range (at
// least one of Callee and CaseID).
type DetailInstancesRequest struct {
	Callee string
	CaseID string
	Range  TimeRange
}

// FoundInstance is one workflow detailinstances names.
type FoundInstance struct {
	WorkflowID   string
	WorkflowName string
	CaseID       string
	Callee       string
	// Created is when the instance (or the callee's place in it) was created, when the answer says.
	Created *time.Time
	Raw     json.RawMessage
}

// DetailInstances asks which Airudder workflows a callee or case is in (detailinstances). Its answer's
// shape is inferred (see instanceFields): a list, directly or under "list", of objects naming a
// workflow_id.
func (c *Client) DetailInstances(ctx context.Context, req DetailInstancesRequest) ([]FoundInstance, error) {
	const op = "detailinstances"
	if strings.TrimSpace(req.Callee) == "" && strings.TrimSpace(req.CaseID) == "" {
		return nil, invalid(op, "no callee and no case_id")
	}
	from, to, err := c.formatRange(op, req.Range, "start_time", "end_time")
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, c.workflow, op, DetailInstancesPath, detailInstancesBody{CaseID: req.CaseID, Callee: req.Callee, StartTime: from, EndTime: to})
	if err != nil {
		return nil, err
	}
	page, err := readPage(op, resp)
	if err != nil {
		return nil, err
	}
	loc := req.Range.Location
	if loc == nil {
		loc = c.loc
	}
	out := make([]FoundInstance, 0, len(page.Records))
	for _, raw := range page.Records {
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			continue // not an object: nothing to read in it
		}
		in := FoundInstance{Raw: raw, WorkflowID: lenientID(raw, instanceWorkflowIDField)}
		in.WorkflowName, _ = unquote(fields[instanceNameField])
		in.CaseID = lenientID(raw, instanceCaseIDField)
		in.Callee, _ = unquote(fields[instanceCalleeField])
		for _, name := range instanceCreatedFields {
			if s, ok := unquote(fields[name]); ok && s != "" {
				if t, err := time.ParseInLocation(TimeLayout, s, loc); err == nil {
					in.Created = &t
				} else if t, err := time.Parse(time.RFC3339, s); err == nil {
					in.Created = &t
				}
				break
			}
		}
		out = append(out, in)
	}
	return out, nil
}

// readPage reads a query's answer: its data (workflow) or body (PDS) holding total and list (see
// answerTotalField), or the list itself. An answer in another shape is an *APIError that is not
// retryable: asking again would read the same.
func readPage(op string, resp *Response) (*RecordPage, error) {
	bad := func(why string) error {
		return &APIError{Op: op, HTTPStatus: 200, Code: resp.Code, Message: fmt.Sprintf("answer %s: %.200s", why, resp.Data)}
	}
	page := &RecordPage{Total: -1}
	data := resp.Data
	switch kindOf(data) {
	case "nothing", "null":
		return &RecordPage{Total: 0}, nil
	case "object":
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(data, &fields)
		if raw, ok := fields[answerTotalField]; ok && kindOf(raw) == "number" {
			var n json.Number
			if json.Unmarshal(raw, &n) == nil {
				if v, err := n.Int64(); err == nil {
					page.Total = int(v)
				}
			}
		}
		data = fields[answerListField]
		if kindOf(data) == "nothing" || kindOf(data) == "null" {
			if page.Total < 0 {
				return nil, bad("has neither " + answerListField + " nor " + answerTotalField)
			}
			return page, nil
		}
	}
	if kindOf(data) != "array" {
		return nil, bad("is not a list of records")
	}
	if err := json.Unmarshal(data, &page.Records); err != nil {
		return nil, bad("is not a list of records: " + err.Error())
	}
	return page, nil
}
