package objstore

// Operation names, one per Store method. They are the values of OpError.Op,
// the "op" label of the metrics in package instrument and the "op" attribute
// of log records, so that a log line, a metric and an error name an operation
// the same way.
const (
	OpPut         = "put"
	OpGet         = "get"
	OpHead        = "head"
	OpDelete      = "delete"
	OpDeleteMany  = "delete_many"
	OpList        = "list"
	OpUpload      = "upload"
	OpListUploads = "list_uploads"
	OpAbortUpload = "abort_upload"
	OpUploadSize  = "upload_size"
)

// Ops returns every operation name, in Store method order.
func Ops() []string {
	return []string{OpPut, OpGet, OpHead, OpDelete, OpDeleteMany, OpList, OpUpload, OpListUploads, OpAbortUpload, OpUploadSize}
}

// Operation names of the test helpers that memstore and fsstore share
// (SetModTime and SetUploadInitiated, which age objects and uploads). They
// are not Store methods, so Ops does not list them.
const (
	OpSetModTime         = "set_mod_time"
	OpSetUploadInitiated = "set_upload_initiated"
)
