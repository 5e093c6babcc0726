package airudder_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
)

func TestCaseRecordingAsksThePDSAPIForACallsLink(t *testing.T) {
	s := airuddertest.New(t)
	s.SetRecording("pds-call-1", "https://rec.example/r/1.wav?sig=x")
	c := s.Client()
	link, err := c.CaseRecording(context.Background(), "pds-call-1")
	if err != nil || link != "https://rec.example/r/1.wav?sig=x" {
		t.Fatalf("link %q, err %v", link, err)
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Path != s.PDSPath(airudder.PDSCaseRecordingPath) || last.JSON["callid"] != "pds-call-1" {
		t.Errorf("request %+v", last)
	}
	// A call Airudder has no recording for: said, and not worth asking again.
	_, err = c.CaseRecording(context.Background(), "pds-call-2")
	var apiErr *airudder.APIError
	if !errors.As(err, &apiErr) || apiErr.Retryable || apiErr.OutcomeUnknown {
		t.Errorf("no recording: %#v", err)
	}
}
