package airudder

import (
	"context"
	"encoding/json"
	"strings"
)

// caseRecordingBody is case/recording's request (seen).
type caseRecordingBody struct {
	CallID string `json:"callid"`
}

// caseRecordingLinkField is where case/recording's body carries the link (seen).
const caseRecordingLinkField = "link"

// CaseRecording asks the PDS API for the recording link of one call (case/recording). An answer without
// a link is an *APIError that is not retryable: Airudder has no recording for that call. Asking changes
// nothing, so its failures never matter beyond being retried.
func (c *Client) CaseRecording(ctx context.Context, callID string) (string, error) {
	const op = "case/recording"
	if strings.TrimSpace(callID) == "" {
		return "", invalid(op, "no callid")
	}
	resp, err := c.call(ctx, c.pds, op, PDSCaseRecordingPath, caseRecordingBody{CallID: callID})
	if err != nil {
		return "", err
	}
	var body map[string]json.RawMessage
	var link string
	if json.Unmarshal(resp.Data, &body) == nil {
		_ = json.Unmarshal(body[caseRecordingLinkField], &link)
	}
	if strings.TrimSpace(link) == "" {
		return "", &APIError{Op: op, Code: resp.Code, Message: "the answer names no recording link for callid " + callID}
	}
	return link, nil
}
