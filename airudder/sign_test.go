package airudder_test

import (
	"errors"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
)

func TestSignSeedWorkedExample(t *testing.T) {
	// The API page's own example: TaskID=ac23fa05005e59b92e0b8a19fa5faf07, KEY=airudder.
	if got := airudder.Sign("ac23fa05005e59b92e0b8a19fa5faf07", "airudder"); got != "4d6017151d678e816c678d90e56e6e28" {
		t.Errorf("Sign = %s", got)
	}
}

func TestSignFixture(t *testing.T) {
	doc, err := airudder.Decode(airudder.ExampleCallCompleted)
	if err != nil {
		t.Fatal(err)
	}
	taskID, sign := doc.Signed()
	if sign != "21816736b9b630184126f8fb3bb74d3b" {
		t.Fatalf("fixture Sign = %s", sign)
	}
	if err := airudder.VerifySign(taskID, sign, []string{airudder.DefaultKey}); err != nil {
		t.Errorf("VerifySign: %v", err)
	}
}

func TestVerifySign(t *testing.T) {
	const task = "ac23fa05005e59b92e0b8a19fa5faf07"
	good := airudder.Sign(task, "new-key")
	cases := []struct {
		name string
		sign string
		keys []string
		want error
	}{
		{"one of several keys (rotation)", good, []string{"old-key", "new-key"}, nil},
		{"upper-case hex", "4D6017151D678E816C678D90E56E6E28", []string{"airudder"}, nil},
		{"wrong key", good, []string{"old-key"}, airudder.ErrInvalidSign},
		{"missing", "", []string{"new-key"}, airudder.ErrMissingSign},
		{"truncated", good[:31], []string{"new-key"}, airudder.ErrInvalidSign},
		{"no keys configured", good, nil, airudder.ErrInvalidSign},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := airudder.VerifySign(task, tc.sign, tc.keys); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestResign(t *testing.T) {
	body := []byte(`{"TaskID":"ac23fa05005e59b92e0b8a19fa5faf07","Sign":"stale","Details":[{"id":9007199254740993,"CallID":"a<b"}]}`)
	out, err := airudder.Resign(body, "airudder")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := airudder.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, sign := doc.Signed(); sign != "4d6017151d678e816c678d90e56e6e28" {
		t.Errorf("Sign = %s", sign)
	}
	cc, err := doc.CallCompleted(airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *cc.Details[0].ID != 9007199254740993 || cc.Details[0].CallID != "a<b" {
		t.Errorf("details changed: %+v", cc.Details[0])
	}
	if _, err := airudder.Resign([]byte("not json"), "k"); err == nil {
		t.Error("want an error for a body that is not JSON")
	}
}
