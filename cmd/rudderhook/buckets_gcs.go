//go:build gcs

package main

import _ "gocloud.dev/blob/gcsblob" // gs://bucket (buckets.go says why it is asked for by a tag)
