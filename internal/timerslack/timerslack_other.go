//go:build !linux

package timerslack

import (
	"errors"
	"time"
)

// Set does nothing: timer slack is a Linux notion.
func Set(time.Duration) error { return nil }

// WithOriginal runs start.
func WithOriginal(start func() error) error { return start() }

// ThreadSlacks is not available: timer slack is a Linux notion.
func ThreadSlacks(int) ([]string, error) { return nil, errors.ErrUnsupported }
