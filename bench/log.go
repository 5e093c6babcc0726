package bench

import (
	"log/slog"

	sdklog "go.temporal.io/sdk/log"
)

// quietLogger drops what migrations say; the bench reports its own progress.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// quietSDKLogger keeps the Temporal SDK's warnings out of the bench's output.
func quietSDKLogger() sdklog.Logger { return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }
