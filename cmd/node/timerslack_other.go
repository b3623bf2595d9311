//go:build !linux

package main

import "time"

// setTimerSlack does nothing: timer slack is a Linux notion.
func setTimerSlack(time.Duration) error { return nil }
