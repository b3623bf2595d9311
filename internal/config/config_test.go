package config

import (
	"errors"
	"fmt"
	"testing"
)

var (
	errOuter = errors.New("outer: bad config")
	errInner = errors.New("inner: bad config")
)

// TestNestAndFields: a nested Config's problems come out under the outer
// field's prefix, match both sentinels, and Fields finds every one in a
// joined, wrapped error, in order.
func TestNestAndFields(t *testing.T) {
	in := NewCollector(errInner)
	in.Bad("MaxCount", -3, "must be at least 1")
	in.Bad("MaxDelay", nil, "must be set")
	out := NewCollector(errOuter)
	out.Bad("Pipeline", 0, "must be at least 1")
	out.Nested("Batch", in.Err())
	out.Nested("Other", nil)
	err := fmt.Errorf("start: %w", out.Err())
	fes := Fields(err)
	var got []string
	for _, fe := range fes {
		got = append(got, fe.Short(fe.Field))
	}
	want := []string{"Pipeline 0: must be at least 1", "Batch.MaxCount -3: must be at least 1", "Batch.MaxDelay: must be set"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("fields %q, want %q", got, want)
	}
	if !errors.Is(fes[1], errOuter) || !errors.Is(fes[1], errInner) || !errors.Is(err, errOuter) {
		t.Fatalf("sentinels lost: %v", err)
	}
	if got := fes[1].Error(); got != "outer: bad config: Batch.MaxCount -3: must be at least 1" {
		t.Fatalf("Error() = %q", got)
	}
	if NewCollector(errOuter).Err() != nil {
		t.Fatal("an empty collector reports an error")
	}
}
