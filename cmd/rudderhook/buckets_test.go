package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob"

	"github.com/rudderhook/rudderhook/activities"
)

// dev archives into a directory under its data directory, created when the worker opens it; a scheme
// this build does not link is refused at start, saying how to get it.
func TestRecordingsBucketsThisBuildOpens(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	u, err := devRecordingsBucket(data)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := activities.OpenRecordings(ctx, u, 0)
	if err != nil {
		t.Fatalf("dev's bucket %s: %v", u, err)
	}
	defer rec.Close()
	if info, err := os.Stat(filepath.Join(data, "recordings")); err != nil || !info.IsDir() {
		t.Errorf("dev's recordings directory: %v", err)
	}
	if loc := rec.Location("recordings/a/b.wav"); !strings.HasPrefix(loc, "file://") || strings.Contains(loc, "create_dir") ||
		!strings.HasSuffix(loc, "/recordings/recordings/a/b.wav") {
		t.Errorf("location %s", loc)
	}
	if !blob.DefaultURLMux().ValidBucketScheme("s3") {
		t.Error("s3:// is not linked")
	}
	if _, err := activities.OpenRecordings(ctx, "ftp://host/dir", 0); err == nil || !strings.Contains(err.Error(), "this binary opens file://, s3://") {
		t.Errorf("an unknown scheme: %v", err)
	}
}
