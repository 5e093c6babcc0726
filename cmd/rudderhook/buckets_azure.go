//go:build azure

package main

import _ "gocloud.dev/blob/azureblob" // azblob://container (buckets.go says why it is asked for by a tag)
