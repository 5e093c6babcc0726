package main

// The bucket schemes RUDDERHOOK_RECORDINGS_BUCKET may name: each driver registers its scheme with
// gocloud.dev/blob when it is linked. Every build opens file:// (a directory: dev, tests, a mounted
// volume) and s3:// (AWS S3 and the many stores that speak its API: MinIO, Cloudflare R2, Alibaba OSS,
// Google Cloud Storage's interoperability endpoint). The Google Cloud Storage and Azure drivers are
// linked only when asked for (`make release BUCKET_TAGS="gcs azure"`, buckets_gcs.go, buckets_azure.go):
// the release binary is 45.6 MB without any, 46.7 MB with fileblob, 55.5 MB with S3 too; Google's adds
// 18 MB more and Azure's 3 MB.
import (
	_ "gocloud.dev/blob/fileblob" // file:///dir
	_ "gocloud.dev/blob/s3blob"   // s3://bucket?region=…
)
