package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/route"
)

// TestGroupLeaders: two nodes each lead one of two groups and redirect the
// other's keys, naming the group and the count. The client learns both,
// and from then on sends every key straight to its group's leader.
func TestGroupLeaders(t *testing.T) {
	const groups = 2
	fakes := make([]*fakeServer, groups)
	for i := range fakes {
		id := uint16(i + 1)
		answer := func(req kv.Request) (kv.Status, uint16, bool) {
			g := route.GroupOf(req.Cmd.RouteKey(), groups)
			if g == int(id-1) {
				return kv.StatusOK, id, true
			}
			return kv.StatusNotLeader, uint16(g + 1), true
		}
		fakes[i] = newFakeValue(t, id, answer, func(req kv.Request, st kv.Status) []byte {
			if st != kv.StatusNotLeader {
				return nil
			}
			g := route.GroupOf(req.Cmd.RouteKey(), groups)
			return kv.AppendNotLeaderInfo(nil, kv.NotLeaderInfo{Group: uint16(g), Groups: groups})
		})
	}
	c, err := Dial([]string{fakes[0].srv.Addr().String(), fakes[1].srv.Addr().String()}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.setLeaders(0)
	s := c.Session()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keyOf := func(g, i int) []byte {
		for j := 0; ; j++ {
			if k := []byte(fmt.Sprintf("k%d-%d", i, j)); route.GroupOf(k, groups) == g {
				return k
			}
		}
	}
	// Learn: a key of each group, both nodes heard from.
	for g := 0; g < groups; g++ {
		if err := s.Put(ctx, keyOf(g, 0), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if c.Groups() != groups {
		t.Fatalf("the client knows %d groups, want %d", c.Groups(), groups)
	}
	before := []int{len(fakes[0].commands()), len(fakes[1].commands())}
	for i := 1; i <= 10; i++ {
		for g := 0; g < groups; g++ {
			if err := s.Put(ctx, keyOf(g, i), []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A multi routes by its first key: straight to that group's leader.
	for g := 0; g < groups; g++ {
		var m kv.Multi
		m.Add(&kv.Command{Op: kv.OpPut, Key: keyOf(g, 99), Value: []byte("v")})
		m.Add(&kv.Command{Op: kv.OpPut, Key: keyOf(g, 98), Value: []byte("v")})
		if _, err := s.Do(ctx, m.Command()); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range fakes {
		got := f.commands()[before[i]:]
		if len(got) != 11 {
			t.Errorf("node %d got %d commands after learning, want its group's 11 (no redirects)", i+1, len(got))
		}
		for _, cmd := range got {
			if g := route.GroupOf(cmd.RouteKey(), groups); g != i {
				t.Errorf("node %d got key %q of group %d", i+1, cmd.RouteKey(), g)
			}
		}
	}
}
