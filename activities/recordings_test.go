package activities_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	_ "gocloud.dev/blob/fileblob"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// recording is a WAV-sized body made on the fly: a header and size-44 bytes of noise from a fixed seed,
// so that the test knows its checksum without holding it twice.
func recording(size int64) io.Reader {
	header := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
	noise := rand.New(rand.NewPCG(1, 2))
	return io.MultiReader(strings.NewReader(string(header)), io.LimitReader(readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = byte(noise.Uint32())
		}
		return len(p), nil
	}), size-int64(len(header))))
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func sha256Of(t *testing.T, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// recordingServer serves a recording of size bytes at /rec/{name}.wav in chunks, without a length (as a
// stream), counting the requests; other paths are handle's.
type recordingServer struct {
	*httptest.Server
	gets atomic.Int32
}

func newRecordingServer(t *testing.T, size int64, handle func(w http.ResponseWriter, r *http.Request) bool) *recordingServer {
	t.Helper()
	s := &recordingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.gets.Add(1)
		if handle != nil && handle(w, r) {
			return
		}
		w.Header().Set("Content-Type", "audio/x-wav")
		buf := make([]byte, 64<<10)
		src := recording(size)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// archiveSetup is a stored PDS call whose recording link is link, an archive follow-up planned for it,
// and activities that archive into a directory bucket (dir).
type archiveSetup struct {
	acts *activities.Activities
	st   *store.Store
	fu   rules.FollowUp
	dir  string
	call airudder.ReceivedCall
}

func setupArchive(t *testing.T, link string, maxBytes int64) *archiveSetup {
	t.Helper()
	ctx := context.Background()
	st := store.New(storetest.DB(t))
	ev, err := airudder.ReadExampleEvent(airudder.KindPDS, airudder.ExamplePDSAgentStatus, "airudder", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rc := *ev.Call
	rc.Call.RecordingURL = link
	wf := "call/airudder/" + rc.Key
	stored, err := st.StoreRevision(ctx, airudder.CallSubject(rc), wf, true)
	if err != nil {
		t.Fatal(err)
	}
	fu := rules.ArchiveFollowUp(rc, wf, 0, "UTC")
	if _, err := st.InsertFollowUps(ctx, stored.SubjectID, []store.FollowUpRecord{{Key: fu.Key, RuleID: fu.RuleID, Action: fu.Action,
		Type: fu.Type, Plan: fu, Status: rules.StatusScheduled, WorkflowID: wf}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec, err := activities.OpenRecordings(ctx, (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String(), maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	acts := &activities.Activities{Store: st, Log: slog.New(slog.DiscardHandler), RuleURLs: egress.Policy{AllowLoopback: true}, Recordings: rec}
	return &archiveSetup{acts: acts, st: st, fu: fu, dir: dir, call: rc}
}

// run makes one attempt at the archive follow-up, as its workflow's activity would.
func (s *archiveSetup) run(t *testing.T, retry bool) (*activities.RunResult, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(s.acts)
	val, err := env.ExecuteActivity(s.acts.RunFollowUp, activities.RunInput{FollowUp: s.fu, Retry: retry, Deadline: time.Now().Add(time.Hour),
		Schedule: activities.RetrySchedule{Initial: time.Second, Coefficient: 2, Maximum: time.Minute}})
	if err != nil {
		return nil, err
	}
	var res activities.RunResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return &res, nil
}

// files are the files under the bucket's directory, by their path from it (without fileblob's .attrs).
func (s *archiveSetup) files(t *testing.T) map[string]fs.FileInfo {
	t.Helper()
	out := map[string]fs.FileInfo{}
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".attrs") {
			return err
		}
		info, err := d.Info()
		rel, _ := filepath.Rel(s.dir, p)
		out[filepath.ToSlash(rel)] = info
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// errType is the type of the failure that ended the follow-up (RunFollowUp names it before the reason of
// its FollowUpFailed error).
func errType(err error) string {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeFollowUpFailed {
		return ""
	}
	typ, _, _ := strings.Cut(appErr.Message(), ": ")
	return typ
}

func TestArchiveRecordingStreamsTheRecordingIntoTheBucketWithItsChecksum(t *testing.T) {
	t.Parallel()
	const size = 6<<20 + 123 // several MiB, in 64 KiB chunks, with no Content-Length
	srv := newRecordingServer(t, size, nil)
	s := setupArchive(t, srv.URL+"/rec/pds0c41f.wav?token=secret-token", 0)
	res, err := s.run(t, false)
	if err != nil || res.Status != rules.StatusSucceeded {
		t.Fatalf("result %+v, error %v", res, err)
	}
	sum := sha256Of(t, recording(size))
	key := "recordings/airudder/pds/" + s.call.Call.CallID + "/" + sum + ".wav"
	files := s.files(t)
	if len(files) != 1 || files[key] == nil || files[key].Size() != size {
		t.Fatalf("bucket holds %v, want only %s (%d bytes)", files, key, size)
	}
	f, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := sha256Of(t, f); got != sum {
		t.Errorf("stored bytes have sha256 %s, want %s", got, sum)
	}
	rec, err := s.st.RecordingByFollowUp(context.Background(), s.fu.Key)
	if err != nil {
		t.Fatal(err)
	}
	if rec.SHA256 != sum || rec.Size != size || rec.BucketKey != key || rec.ContentType != "audio/x-wav" ||
		rec.Location != s.acts.Recordings.Location(key) || !strings.HasPrefix(rec.Location, "file://") || rec.URL != s.call.Call.RecordingURL {
		t.Errorf("recorded %+v", rec)
	}

	// An operator's retry finds it archived: nothing is fetched or written again.
	before := files[key].ModTime()
	if err := s.st.UpdateFollowUp(context.Background(), s.fu.Key, store.FollowUpUpdate{Status: rules.StatusFailed, Finished: true}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.run(t, true); err != nil || res.Status != rules.StatusSucceeded {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if n := srv.gets.Load(); n != 1 {
		t.Errorf("the link was fetched %d times, want once", n)
	}
	if after := s.files(t); len(after) != 1 || !after[key].ModTime().Equal(before) {
		t.Errorf("the retry rewrote the bucket: %v", after)
	}
}

func TestArchiveRecordingRefusesARecordingOverTheCap(t *testing.T) {
	t.Parallel()
	for _, withLength := range []bool{false, true} {
		srv := newRecordingServer(t, 3<<20, func(w http.ResponseWriter, r *http.Request) bool {
			if withLength {
				w.Header().Set("Content-Length", "3145728")
			}
			return false
		})
		s := setupArchive(t, srv.URL+"/rec/big.wav", 1<<20)
		_, err := s.run(t, false)
		if errType(err) != activities.ErrTypeRecordingTooLarge || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
			t.Errorf("length given %v: error %v, want %s", withLength, err, activities.ErrTypeRecordingTooLarge)
		}
		if files := s.files(t); len(files) != 0 {
			t.Errorf("length given %v: the bucket kept %v", withLength, files)
		}
		if fu, _ := s.st.FollowUpByKey(context.Background(), s.fu.Key); fu.Status != rules.StatusFailed {
			t.Errorf("length given %v: follow-up %s, want failed", withLength, fu.Status)
		}
	}
}

func TestArchiveRecordingFailsForGoodWhenTheLinkHasExpired(t *testing.T) {
	t.Parallel()
	srv := newRecordingServer(t, 1024, func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return true
	})
	s := setupArchive(t, srv.URL+"/rec/old.wav?token=secret-token", 0)
	_, err := s.run(t, false)
	if errType(err) != activities.ErrTypeRecordingGone || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("error %v, want %s saying the link expired", err, activities.ErrTypeRecordingGone)
	}
	fu, _ := s.st.FollowUpByKey(context.Background(), s.fu.Key)
	if fu.Status != rules.StatusFailed || !strings.Contains(fu.LastError, "HTTP 404") || strings.Contains(fu.LastError, "secret-token") {
		t.Errorf("follow-up %s: %q (the link's token must not be shown)", fu.Status, fu.LastError)
	}
}

func TestArchiveRecordingFollowsNoRedirectInside(t *testing.T) {
	t.Parallel()
	for _, inside := range []string{"http://10.1.2.3/rec.wav", "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"} {
		srv := newRecordingServer(t, 1024, func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, inside, http.StatusFound)
			return true
		})
		s := setupArchive(t, srv.URL+"/rec/moved.wav", 0)
		// The link itself is on loopback, which this worker allows (as dev and tests do); where it redirects
		// is checked by the same policy, which allows no private or metadata address.
		_, err := s.run(t, false)
		if errType(err) != activities.ErrTypeDestinationRefused {
			t.Errorf("redirect to %s: error %v, want %s", inside, err, activities.ErrTypeDestinationRefused)
		}
		if files := s.files(t); len(files) != 0 {
			t.Errorf("redirect to %s: the bucket holds %v", inside, files)
		}
	}
}

func TestArchiveRecordingRefusesALinkToLoopbackUnlessAllowed(t *testing.T) {
	t.Parallel()
	srv := newRecordingServer(t, 1024, nil)
	s := setupArchive(t, srv.URL+"/rec/a.wav", 0)
	s.acts.RuleURLs = egress.Policy{} // production: public addresses only
	_, err := s.run(t, false)
	if errType(err) != activities.ErrTypeDestinationRefused || srv.gets.Load() != 0 {
		t.Errorf("error %v after %d requests, want %s before any", err, srv.gets.Load(), activities.ErrTypeDestinationRefused)
	}
}

func TestArchiveRecordingAsksAirudderForAPDSCallsLinkAndNeedsABucket(t *testing.T) {
	t.Parallel()
	srv := newRecordingServer(t, 4096, nil)
	s := setupArchive(t, "", 0)
	fake := airuddertest.New(t)
	fake.SetRecording(s.call.Call.CallID, srv.URL+"/rec/looked-up.wav")
	s.acts.Airudder = fake.Client()
	if res, err := s.run(t, false); err != nil || res.Status != rules.StatusSucceeded {
		t.Fatalf("result %+v, error %v", res, err)
	}
	if rec, err := s.st.RecordingByFollowUp(context.Background(), s.fu.Key); err != nil || rec.Size != 4096 || !strings.HasSuffix(rec.URL, "/rec/looked-up.wav") {
		t.Errorf("recorded %+v, %v", rec, err)
	}

	none := setupArchive(t, srv.URL+"/rec/a.wav", 0)
	none.acts.Recordings = nil
	if _, err := none.run(t, false); errType(err) != activities.ErrTypeRecordingsNotConfigured || !strings.Contains(err.Error(), "RUDDERHOOK_RECORDINGS_BUCKET") {
		t.Errorf("without a bucket: %v", err)
	}
}
