package miniostore

import (
	"context"
	"log/slog"
	"strings"
)

// traceLog is minio-go's trace output (TraceOn) as slog debug records, one
// per write. minio-go writes nothing to stderr by itself; with a logger
// enabled at debug level the Store turns its tracing on into this writer,
// never onto stderr. minio-go redacts the request signature in traces.
type traceLog struct{ log *slog.Logger }

func (t traceLog) Write(p []byte) (int, error) {
	if msg := strings.TrimSpace(string(p)); msg != "" {
		t.log.LogAttrs(context.Background(), slog.LevelDebug, "miniostore: minio-go trace",
			slog.String("backend", backend), slog.String("trace", msg))
	}
	return len(p), nil
}
