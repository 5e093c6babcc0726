package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/proto"

	_ "gocloud.dev/blob/fileblob" // the directory bucket, as cmd registers it

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/rules"
)

// A source that archives every recording: a PDS call's recLink (on loopback, which the harness lets
// outbound requests reach, as RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK does) is downloaded into a directory
// bucket under its SHA-256, and a PDS call that came without one is archived from the link the fake
// Airudder's case/recording gives for its callid. The call API shows where each is; the call's workflow
// history holds none of the recording's bytes.
func TestRecordingsAreArchivedToTheBucketAndStayOutOfTemporal(t *testing.T) {
	t.Parallel()
	wav := make([]byte, 3<<20) // a 3 MiB recording: far larger than anything a history event may carry
	copy(wav, "RIFF\x00\x00\x00\x00WAVEfmt ")
	noise := rand.New(rand.NewPCG(3, 4))
	for i := 16; i < len(wav); i++ {
		wav[i] = byte(noise.Uint32())
	}
	sum := sha256.Sum256(wav)
	want := hex.EncodeToString(sum[:])
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "rec-secret" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		http.ServeContent(w, r, "call.wav", time.Time{}, bytes.NewReader(wav))
	}))
	t.Cleanup(rec.Close)
	fa := airuddertest.New(t)
	fa.SetRecording("pds-without-link", rec.URL+"/r/looked-up.wav?token=rec-secret")
	dir := t.TempDir()
	s := start(t, options{environ: append(slices.Clone(eventsEnv),
		"RUDDERHOOK_SOURCE_AIRUDDER_ARCHIVE_RECORDINGS=true",
		"RUDDERHOOK_RECORDINGS_BUCKET="+(&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String(),
		"AIRUDDER_BASE_URL="+fa.URL, "AIRUDDER_APP_KEY="+airuddertest.AppKey, "AIRUDDER_APP_SECRET="+airuddertest.AppSecret)})

	agent := func(callID, link string) []byte {
		var env map[string]any
		mustUnmarshal(t, airudder.ExamplePDSAgentStatus, &env)
		b := env["body"].(map[string]any)
		b["callid"] = callID
		if link == "" {
			delete(b, "recLink")
		} else {
			b["recLink"] = link
		}
		out, _ := json.Marshal(env)
		return out
	}
	for callID, link := range map[string]string{
		"pds-with-link":    rec.URL + "/r/with-link.wav?token=rec-secret",
		"pds-without-link": "",
	} {
		if status, body := s.postKind("airudder", "s3cret", airudder.KindPDS, agent(callID, link)); status != http.StatusOK {
			t.Fatalf("post %s: %d %s", callID, status, body)
		}
		wf := "call/airudder/pds/" + callID
		s.waitWorkflow(wf)

		_, body := s.get(callPath("pds/" + callID))
		var call struct {
			Call      struct{ RecLink string }
			FollowUps []struct {
				RuleID    string `json:"rule_id"`
				Status    string
				LastError string `json:"last_error"`
			} `json:"follow_ups"`
			Recording *struct {
				Archived bool
				Location string
				Key      string
				Size     int64
				SHA256   string
			}
		}
		mustUnmarshal(t, body, &call)
		if len(call.FollowUps) != 1 || call.FollowUps[0].RuleID != rules.SourceArchiveRule || call.FollowUps[0].Status != "succeeded" {
			t.Fatalf("%s: follow-ups %+v", callID, call.FollowUps)
		}
		r := call.Recording
		if r == nil || !r.Archived || r.SHA256 != want || r.Size != int64(len(wav)) ||
			r.Key != "recordings/airudder/pds/"+callID+"/"+want+".wav" || !strings.HasPrefix(r.Location, "file://") {
			t.Fatalf("%s: recording %+v, want archived with sha256 %s", callID, r, want)
		}
		u, err := url.Parse(r.Location)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := os.ReadFile(filepath.FromSlash(u.Path))
		if err != nil {
			t.Fatalf("%s: the location %s: %v", callID, r.Location, err)
		}
		if got := sha256.Sum256(stored); hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: the bucket holds other bytes (%d)", callID, len(stored))
		}

		// No recording bytes in Temporal: every event of the call's history is small, and so is the whole.
		var total, largest int
		iter := s.client.GetWorkflowHistory(context.Background(), wf, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			e, err := iter.Next()
			if err != nil {
				t.Fatal(err)
			}
			n := proto.Size(e)
			total, largest = total+n, max(largest, n)
		}
		if largest > 32<<10 || total > 256<<10 {
			t.Errorf("%s: history of %d bytes, its largest event %d: the recording (%d bytes) or a part of it went into Temporal",
				callID, total, largest, len(wav))
		}
		if callID == "pds-without-link" && s.historyMentions(wf, "rec-secret") {
			t.Errorf("%s: the looked-up link, with its token, went into Temporal", callID)
		}
	}
	if n := fa.Count(fa.PDSPath(airudder.PDSCaseRecordingPath)); n != 1 {
		t.Errorf("case/recording asked %d times, want once (for the call without a link)", n)
	}
}
