package airudder

import (
	"context"
	"encoding/json"
	"strings"
)

// CancelContactRequest is one number whose remaining steps in a workflow task are to be cancelled.
type CancelContactRequest struct {
	TaskID string
	Callee string
}

// CancelResult is the answer to a cancel.
type CancelResult struct {
	// Cancelled are the numbers the answer lists as cancelled; Listed says whether the answer listed
	// numbers at all. A number asked for but not listed was not pending any more (cancelled before, or
	// already called). When Listed is false, the answer did not say.
	Cancelled []string
	Listed    bool
	Code      int
	Message   string
	Data      json.RawMessage // the answer's data or body, as received
}

// CancelContact cancels the remaining steps of a workflow task for one number. Its path and fields are a
// guess (see DefaultCancelContactPath and WithCancelContactPath). Cancelling twice is harmless, but a
// failure still reports OutcomeUnknown faithfully: the caller decides.
func (c *Client) CancelContact(ctx context.Context, req CancelContactRequest) (*CancelResult, error) {
	const op = "cancelcontact"
	switch {
	case strings.TrimSpace(req.TaskID) == "":
		return nil, invalid(op, "no task ID")
	case strings.TrimSpace(req.Callee) == "":
		return nil, invalid(op, "no callee")
	}
	resp, err := c.call(ctx, c.workflow, op, c.cancelContactPath, cancelContactBody(req))
	if err != nil {
		return nil, err
	}
	return cancelResult(resp), nil
}

func cancelResult(resp *Response) *CancelResult {
	numbers, listed := cancelledNumbers(resp.Data)
	return &CancelResult{Cancelled: numbers, Listed: listed, Code: resp.Code, Message: resp.Message, Data: resp.Data}
}

// cancelledNumbers finds the list of cancelled numbers in a cancel answer's data, in any of the shapes
// cancelledListFields and cancelledNumberFields allow.
func cancelledNumbers(data json.RawMessage) ([]string, bool) {
	if kindOf(data) == "object" {
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(data, &fields)
		data = nil
		for _, name := range cancelledListFields {
			if kindOf(fields[name]) == "array" {
				data = fields[name]
				break
			}
		}
	}
	if kindOf(data) != "array" {
		return nil, false
	}
	var items []json.RawMessage
	if json.Unmarshal(data, &items) != nil {
		return nil, false
	}
	numbers := []string{}
	for _, item := range items {
		var number string
		switch kindOf(item) {
		case "string":
			_ = json.Unmarshal(item, &number)
		case "object":
			var fields map[string]json.RawMessage
			_ = json.Unmarshal(item, &fields)
			for _, name := range cancelledNumberFields {
				if kindOf(fields[name]) == "string" && json.Unmarshal(fields[name], &number) == nil {
					break
				}
			}
		}
		if number == "" {
			// An item we cannot read: the list as a whole cannot be trusted to be complete.
			return nil, false
		}
		numbers = append(numbers, number)
	}
	return numbers, true
}

// CancelTaskContactsRequest names numbers whose pending calls in a PDS (predictive dialer) task are to be
// cancelled. Numbers are written as Airudder has them: "+" and at most 14 digits (Airudder answers code
// 10510 otherwise).
type CancelTaskContactsRequest struct {
	TaskID  string
	Numbers []string
}

// CancelTaskContacts cancels the pending calls of req.Numbers in the PDS task req.TaskID. The answer
// lists the numbers actually cancelled (CancelResult.Cancelled); a number asked for but not listed was
// not pending. Cancelling twice is harmless, but a failure still reports OutcomeUnknown faithfully: the
// caller decides.
func (c *Client) CancelTaskContacts(ctx context.Context, req CancelTaskContactsRequest) (*CancelResult, error) {
	const op = "canceltaskcontacts"
	if strings.TrimSpace(req.TaskID) == "" {
		return nil, invalid(op, "no task ID")
	}
	if len(req.Numbers) == 0 {
		return nil, invalid(op, "no numbers")
	}
	for _, n := range req.Numbers {
		if strings.TrimSpace(n) == "" {
			return nil, invalid(op, "an empty number")
		}
	}
	resp, err := c.call(ctx, c.pds, op, PDSCancelTaskContactsPath, pdsCancelBody{ContactList: req.Numbers, TaskID: req.TaskID})
	if err != nil {
		return nil, err
	}
	return cancelResult(resp), nil
}
