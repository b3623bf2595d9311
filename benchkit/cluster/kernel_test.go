package cluster

import (
	"context"
	"errors"
	"testing"

	"github.com/mpaxos/mpaxos/faults"
)

// TestHookRefusesKernelFaults: without netns hosts a kernel-only setting
// is refused before any node is asked (the hook would drop it in silence:
// those fields have no JSON), and every network kind is the hook's.
func TestHookRefusesKernelFaults(t *testing.T) {
	f := &Faulter{admins: map[uint64]string{1: "127.0.0.1:1"}, net: NewNetClient("")}
	for _, s := range []faults.NetSpec{{ClientCut: true}, {Blackhole: true}, {Dup: 0.1}, {Rate: 8000}, {Flap: 1}} {
		if err := f.SetNet(context.Background(), 1, s); !errors.Is(err, ErrKernelOnly) {
			t.Errorf("%v: %v, want ErrKernelOnly", s, err)
		}
	}
	if l := f.Layer(faults.Drop); l != "hook" {
		t.Errorf("layer of drop without netns hosts: %q", l)
	}
	k := &Faulter{kernel: &hostNet{}}
	if l := k.Layer(faults.Drop); l != "kernel" {
		t.Errorf("layer of drop on netns hosts: %q", l)
	}
	if l := k.Layer(faults.Delay); l != "hook" {
		t.Errorf("layer of delay on netns hosts without netem: %q", l)
	}
	k.kernel.netem = true
	if l := k.Layer(faults.Delay); l != "kernel" {
		t.Errorf("layer of delay with netem: %q", l)
	}
}
