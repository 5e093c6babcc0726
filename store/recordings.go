package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Recording is a call's recording as archived to the bucket: where it is, how large, its checksum, and
// the link it came from (which may carry a token: show it to no one who may not have it, log it never).
type Recording struct {
	ID          int64     `db:"id" json:"-"`
	SubjectID   int64     `db:"subject_id" json:"-"`
	FollowUpKey string    `db:"follow_up_key" json:"follow_up_key"`
	URL         string    `db:"url" json:"-"`
	BucketKey   string    `db:"bucket_key" json:"key"`
	Location    string    `db:"location" json:"location"`
	Size        int64     `db:"size" json:"size"`
	SHA256      string    `db:"sha256" json:"sha256"`
	ContentType string    `db:"content_type" json:"content_type,omitempty"`
	ArchivedAt  time.Time `db:"archived_at" json:"archived_at"`
}

const (
	// recordRecordingSQL keeps the latest archive of a follow-up: an operator's retry that fetched it
	// again (the link now gives other bytes) moves the row to the new key.
	recordRecordingSQL = `INSERT INTO recordings (subject_id, follow_up_key, url, bucket_key, location, size, sha256, content_type)
VALUES (:subject_id, :follow_up_key, :url, :bucket_key, :location, :size, :sha256, :content_type)
ON CONFLICT (follow_up_key) DO UPDATE SET url = EXCLUDED.url, bucket_key = EXCLUDED.bucket_key, location = EXCLUDED.location,
  size = EXCLUDED.size, sha256 = EXCLUDED.sha256, content_type = EXCLUDED.content_type, archived_at = now()
RETURNING id, archived_at`
	recordingByFollowUpSQL = `SELECT * FROM recordings WHERE follow_up_key = $1`
	// latestRecordingSQL is the recording a subject shows: the one archived last.
	latestRecordingSQL = `SELECT * FROM recordings WHERE subject_id = $1 ORDER BY archived_at DESC, id DESC LIMIT 1`
)

// RecordRecording stores where a follow-up archived a recording (again: the latest wins).
func (s *Store) RecordRecording(ctx context.Context, r *Recording) error {
	rows, err := s.db.NamedQueryContext(ctx, recordRecordingSQL, r)
	if err != nil {
		return fmt.Errorf("record recording of %s: %w", r.FollowUpKey, err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&r.ID, &r.ArchivedAt); err != nil {
			return fmt.Errorf("record recording of %s: %w", r.FollowUpKey, err)
		}
	}
	return rows.Err()
}

// RecordingByFollowUp is the recording a follow-up archived, or ErrNotFound.
func (s *Store) RecordingByFollowUp(ctx context.Context, key string) (*Recording, error) {
	return s.recording(ctx, recordingByFollowUpSQL, key)
}

// RecordingOf is the recording a subject shows (the one archived last), or ErrNotFound.
func (s *Store) RecordingOf(ctx context.Context, subjectID int64) (*Recording, error) {
	return s.recording(ctx, latestRecordingSQL, subjectID)
}

func (s *Store) recording(ctx context.Context, q string, arg any) (*Recording, error) {
	var r Recording
	if err := s.db.GetContext(ctx, &r, q, arg); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("read recording: %w", err)
	}
	return &r, nil
}
