package cluster

import (
	"context"
	"log/slog"
)

// startLogger returns a logger that calls f with the pid of every
// "started node" event.
func startLogger(f func(pid int)) *slog.Logger { return slog.New(&pidHandler{f: f}) }

type pidHandler struct{ f func(int) }

func (h *pidHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *pidHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "started node" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "pid" {
			h.f(int(a.Value.Int64()))
		}
		return true
	})
	return nil
}
func (h *pidHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *pidHandler) WithGroup(string) slog.Handler      { return h }
