package soak

// The S3 backends, for the tests that open s3:// and minio:// URLs.
import _ "github.com/stowage-dev/stowage/objstore/all"
