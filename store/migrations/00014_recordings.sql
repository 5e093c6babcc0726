-- +goose Up

-- Call recordings archived to the bucket (RUDDERHOOK_RECORDINGS_BUCKET) by an archive_recording follow-up:
-- one row per follow-up, written once the recording is in the bucket under its final key. The bytes
-- live only in the bucket, never here nor in Temporal.
CREATE TABLE recordings (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id    bigint      NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
    follow_up_key text        NOT NULL UNIQUE, -- the archive_recording follow-up that fetched it
    url           text        NOT NULL,        -- the link it was downloaded from: it may carry a token; never logged whole
    bucket_key    text        NOT NULL,        -- recordings/{source}/{call key}/{sha256}.{ext}
    location      text        NOT NULL,        -- the bucket's URL (without its query) and the key: where it is
    size          bigint      NOT NULL,
    sha256        text        NOT NULL,        -- hex, of the bytes as stored
    content_type  text        NOT NULL DEFAULT '',
    archived_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recordings_subject_idx ON recordings (subject_id);

-- A source's archive_recordings option plans a follow-up for every call with a recording, also where no
-- rules version is in force: such a follow-up has rule_version 0 (rule_id source:archive-recordings), so
-- the version may name no rule set.
ALTER TABLE follow_ups DROP CONSTRAINT follow_ups_rule_version_fkey;

-- +goose Down
DELETE FROM follow_ups f WHERE NOT EXISTS (SELECT 1 FROM rule_sets r WHERE r.version = f.rule_version);
ALTER TABLE follow_ups ADD CONSTRAINT follow_ups_rule_version_fkey FOREIGN KEY (rule_version) REFERENCES rule_sets (version);
DROP TABLE recordings;
