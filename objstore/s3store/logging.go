package s3store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"
)

// sdkLogger routes aws-sdk-go-v2's log output (its warnings, and what
// ClientLogMode asks for) to the Store's slog logger, never to stderr,
// which is where the SDK's default logger writes.
type sdkLogger struct{ log *slog.Logger }

var _ logging.Logger = sdkLogger{}

// Logf implements logging.Logger: Warn records at slog's warning level,
// everything else at debug.
func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.LogAttrs(ctx, level, "s3store: aws-sdk-go-v2: "+fmt.Sprintf(format, v...), slog.String("backend", backend))
}
