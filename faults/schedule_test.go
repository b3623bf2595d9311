package faults

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want []Event
	}{
		{"", nil},
		{"kill-leader@10s", []Event{{Kind: Kill, Target: Target{Role: Leader}, At: 10 * time.Second}}},
		{"kill-leader@10s,restart@15s", []Event{
			{Kind: Kill, Target: Target{Role: Leader}, At: 10 * time.Second},
			{Kind: Restart, At: 15 * time.Second},
		}},
		{"partition-leader@20s+5s", []Event{{Kind: Isolate, Target: Target{Role: Leader}, At: 20 * time.Second, For: 5 * time.Second}}},
		{"isolate=3@30s+5s", []Event{{Kind: Isolate, Target: Target{Role: Node, Node: 3}, At: 30 * time.Second, For: 5 * time.Second}}},
		{"delay=5ms@40s+10s", []Event{{Kind: Delay, Delay: 5 * time.Millisecond, At: 40 * time.Second, For: 10 * time.Second}}},
		{"delay=5ms~2ms@1m", []Event{{Kind: Delay, Delay: 5 * time.Millisecond, Jitter: 2 * time.Millisecond, At: time.Minute}}},
		{"drop=2%@50s+10s", []Event{{Kind: Drop, Percent: 2, At: 50 * time.Second, For: 10 * time.Second}}},
		{"drop=100%@0s+1s", []Event{{Kind: Drop, Percent: 100, For: time.Second}}},
		{"pause-leader@60s+3s", []Event{{Kind: Pause, Target: Target{Role: Leader}, At: time.Minute, For: 3 * time.Second}}},
		{"kill=2@5s , kill-follower @ 5s + 1s", []Event{
			{Kind: Kill, Target: Target{Role: Node, Node: 2}, At: 5 * time.Second},
			{Kind: Kill, Target: Target{Role: Follower}, At: 5 * time.Second, For: time.Second},
		}},
		{"split=minority@10s+5s,split=majority@20s+5s", []Event{
			{Kind: Split, Target: Target{Role: Minority}, At: 10 * time.Second, For: 5 * time.Second},
			{Kind: Split, Target: Target{Role: Majority}, At: 20 * time.Second, For: 5 * time.Second},
		}},
		{"oneway=1>2@10s+5s", []Event{{Kind: OneWay, Target: Target{Role: Node, Node: 1}, To: Target{Role: Node, Node: 2}, At: 10 * time.Second, For: 5 * time.Second}}},
		{"oneway=leader>follower@1s+1s", []Event{{Kind: OneWay, Target: Target{Role: Leader}, To: Target{Role: Follower}, At: time.Second, For: time.Second}}},
		{"isolate=1@1s,heal@2s", []Event{
			{Kind: Isolate, Target: Target{Role: Node, Node: 1}, At: time.Second},
			{Kind: Heal, At: 2 * time.Second},
		}},
		{"pause=1@1s,resume=1@2s", []Event{
			{Kind: Pause, Target: Target{Role: Node, Node: 1}, At: time.Second},
			{Kind: Resume, Target: Target{Role: Node, Node: 1}, At: 2 * time.Second},
		}},
		// Sorted by time, stable.
		{"restart=2@15s,kill=2@5s", []Event{
			{Kind: Kill, Target: Target{Role: Node, Node: 2}, At: 5 * time.Second},
			{Kind: Restart, Target: Target{Role: Node, Node: 2}, At: 15 * time.Second},
		}},
		// A timed kill ends before the next kill of the same node.
		{"kill=2@5s+5s,kill=2@10s+1s", []Event{
			{Kind: Kill, Target: Target{Role: Node, Node: 2}, At: 5 * time.Second, For: 5 * time.Second},
			{Kind: Kill, Target: Target{Role: Node, Node: 2}, At: 10 * time.Second, For: time.Second},
		}},
		// A restart=ID may restart what a kill-leader killed.
		{"kill-leader@1s,restart=3@2s", []Event{
			{Kind: Kill, Target: Target{Role: Leader}, At: time.Second},
			{Kind: Restart, Target: Target{Role: Node, Node: 3}, At: 2 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("event %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			// The canonical text parses back to the same schedule.
			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("reparse %q: %v", got.String(), err)
			}
			if again.String() != got.String() {
				t.Fatalf("round trip %q -> %q", got.String(), again.String())
			}
		})
	}
}

func TestParseIssueExample(t *testing.T) {
	const ex = "kill-leader@10s,restart@15s,partition-leader@20s+5s,isolate=3@30s+5s,delay=5ms@40s+10s,drop=2%@50s+10s,pause-leader@60s+3s"
	s, err := Parse(ex)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 7 {
		t.Fatalf("%d events", len(s))
	}
	want := "kill-leader@10s,restart@15s,isolate-leader@20s+5s,isolate=3@30s+5s,delay=5ms@40s+10s,drop=2%@50s+10s,pause-leader@1m0s+3s"
	if s.String() != want {
		t.Fatalf("String\n got %s\nwant %s", s, want)
	}
	// The brief's longer example, every kind at once.
	const all = ex + ",kill=2@5s,kill-follower@5s,split=minority@10s+5s,oneway=1>2@10s+5s"
	s, err = Parse(all)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 11 || s[0].String() != "kill=2@5s" || s[1].String() != "kill-follower@5s" {
		t.Fatalf("%v", s)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want []string // one substring per expected error, in order
	}{
		{"explode@1s", []string{`unknown kind "explode"`}},
		{"kill-boss@1s", []string{`unknown kind "kill-boss"`}},
		{"delay-leader@1s", []string{`unknown kind "delay-leader"`}},
		{"kill-leader", []string{`missing "@"`}},
		{"kill-leader@soon", []string{`bad start time "soon"`}},
		{"kill-leader@1s+forever", []string{`bad duration "forever"`}},
		{"kill-leader@-1s", []string{`negative start time`}},
		{"kill-leader@1s+0s", []string{`duration +0`}},
		{"kill=x@1s", []string{`bad node id "x"`}},
		{"replace=2@1s+5s", []string{`replace ends when its last step is done and takes no +duration`}},
		{"replace@1s", []string{`replace needs =NODE`}},
		{"remove=boss@1s", []string{`bad node id "boss"`}},
		{"add=3@1s", []string{`add takes no argument`}},
		{"kill=0@1s", []string{`bad node id "0"`}},
		{"kill@1s", []string{`kill needs =NODE`}},
		{"kill-leader=2@1s", []string{`takes no "=" argument`}},
		{"drop=150%@1s", []string{`percentage outside 0..100`}},
		{"drop=-1%@1s", []string{`percentage outside 0..100`}},
		{"drop=lots@1s", []string{`bad percentage`}},
		{"delay=fast@1s", []string{`bad delay "fast"`}},
		{"delay=0s@1s", []string{`nothing to inject`}},
		{"delay=1000h@1s", []string{`delay=1000h: delay and jitter are at most 1m0s`}},
		{"delay=1ms~2m@1s", []string{`at most 1m0s`}},
		{"delay=-5s@1s", []string{`negative delay "-5s"`}},
		{"split=half@1s", []string{`want split=minority or split=majority`}},
		{"oneway=1@1s", []string{`want oneway=FROM>TO`}},
		{"oneway=2>2@1s", []string{`a node to itself`}},
		{"restart@1s+5s", []string{`instant and takes no +duration`}},
		{"heal=1@1s", []string{`heal takes no argument`}},
		{"kill=2@5s,kill=2@8s", []string{`node 2 is still killed by "kill=2@5s"`}},
		{"kill=2@5s+10s,kill=2@8s", []string{`node 2 is still killed`}},
		{"pause=1@1s+5s,pause=1@2s+1s", []string{`node 1 is still paused`}},
		{"pause=1@1s+5s,kill=1@2s", []string{`node 1 is still paused`}},
		{"kill=1@1s,pause=1@2s+1s", []string{`node 1 is still killed`}},
		{"restart=2@1s", []string{`node 2 was never killed`}},
		{"kill=1@1s,restart=2@2s", []string{`node 2 was never killed`}},
		{"kill=2@1s+5s,restart=2@2s", []string{`which ends by itself`}},
		{"restart@1s", []string{`no node was killed`}},
		{"kill-leader@1s+1s,restart@5s", []string{`no node was killed`}},
		{"resume@1s", []string{`no node was paused`}},
		{"kill=1@1s,restart=1@2s,restart=1@3s", []string{`node 1 was never killed`}},
		{"heal@1s", []string{`no open-ended network fault`}},
		{"delay=1ms@1s+1s,heal@5s", []string{`no open-ended network fault`}},
		// Several problems: one error each.
		{"explode@1s,kill=x@1s,drop=200%@1s", []string{`event 1 "explode@1s"`, `event 2 "kill=x@1s"`, `event 3 "drop=200%@1s"`}},
		{"restart@1s,resume@2s", []string{`no node was killed`, `no node was paused`}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("accepted: %v", s)
			}
			if !errors.Is(err, ErrSchedule) {
				t.Fatalf("error does not wrap ErrSchedule: %v", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error %d %q does not say %q", i, lines[i], w)
				}
			}
		})
	}
}

func TestScheduleCheck(t *testing.T) {
	s := MustParse("kill=4@1s,oneway=1>7@2s+1s,split=minority@3s+1s")
	err := s.Check([]NodeID{1, 2})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{"node 4 is not a member", "node 7 is not a member", "split needs at least 3 members"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v does not say %q", err, w)
		}
	}
	if err := s.Check([]NodeID{1, 2, 3, 4, 5, 6, 7}); err != nil {
		t.Fatal(err)
	}
}

// TestScheduleCheckMembership: the membership kinds change the members as
// the schedule goes, so later events are checked against the members of
// their time: a replaced or removed node is gone, a joined one (the next
// unused id) is there, the last member cannot be removed.
func TestScheduleCheckMembership(t *testing.T) {
	for _, tc := range []struct {
		sched   string
		members int
		want    []string // nil: valid
	}{
		{"replace=2@5s,replace=leader@15s", 5, nil},
		{"replace=2@5s,kill=6@10s+1s,remove=6@20s", 5, nil},
		{"add@1s,add@2s,isolate=5@3s+1s", 3, nil},
		{"remove=1@1s,remove=2@2s", 3, nil},
		{"replace=9@1s", 5, []string{"node 9 is not a member"}},
		{"replace=9@1s,replace=2@2s,kill=7@3s", 5, []string{"node 9 is not a member", `event "kill=7@3s": node 7 is not a member (members: [1 3 4 5 6])`}},
		{"replace=2@5s,kill=2@10s", 5, []string{`event "kill=2@10s": node 2 is not a member (members: [1 3 4 5 6])`}},
		{"kill=4@1s", 3, []string{"node 4 is not a member"}},
		{"remove=1@1s,remove=2@2s,remove=3@3s", 3, []string{`event "remove=3@3s": would remove the last member (members: [3])`}},
		{"remove=leader@1s", 1, []string{"would remove the last member"}},
		{"remove=1@1s,split=minority@2s+1s", 3, []string{"a split needs at least 3 members, have 2"}},
		// After a replace of the leader, which node left is unknown:
		// its ids are still accepted, the joined one too.
		{"replace=leader@1s,kill=1@2s,kill=4@3s", 3, nil},
	} {
		members := make([]NodeID, tc.members)
		for i := range members {
			members[i] = NodeID(i + 1)
		}
		err := MustParse(tc.sched).Check(members)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s on %v: %v", tc.sched, members, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s on %v: accepted", tc.sched, members)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s on %v: %v does not say %q", tc.sched, members, err, w)
			}
		}
	}
	if n := MustParse("replace=2@5s,add@6s,remove=1@7s,replace=leader@8s").Joins(); n != 3 {
		t.Errorf("Joins %d, want 3", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"kill-leader@10s,restart@15s,partition-leader@20s+5s,isolate=3@30s+5s,delay=5ms@40s+10s,drop=2%@50s+10s,pause-leader@60s+3s",
		"kill=2@5s,kill-follower@5s,split=minority@10s+5s,oneway=1>2@10s+5s",
		"delay=5ms~1ms@1s,heal@2s", "pause=1@1s,resume@2s", "drop=2.5%@1s+1s", "", ",", "@", "kill=@+",
		"replace=2@5s,replace=leader@15s,add@20s,remove=follower@25s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrSchedule) {
				t.Fatalf("error without ErrSchedule: %v", err)
			}
			return
		}
		// Whatever parses prints in a form that parses to the same.
		again, err := Parse(s.String())
		if err != nil {
			t.Fatalf("%q parsed as %q, which does not parse: %v", in, s.String(), err)
		}
		if again.String() != s.String() {
			t.Fatalf("%q -> %q -> %q", in, s.String(), again.String())
		}
	})
}

// TestUsageExamples parses every example of Usage, so the help text cannot
// drift from the parser.
func TestUsageExamples(t *testing.T) {
	n := 0
	for _, line := range strings.Split(Usage, "\n") {
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		ev := strings.Fields(line)[0]
		n++
		// Instants need something to undo; give them an open fault.
		prefix := map[string]string{"restart": "kill=2@1s", "resume": "pause=2@1s", "heal": "delay=1ms@1s"}
		text := ev
		for k, p := range prefix {
			if strings.HasPrefix(ev, k) {
				text = p + "," + ev
			}
		}
		if _, err := Parse(text); err != nil {
			t.Errorf("example %q: %v", ev, err)
		}
	}
	if n < 15 {
		t.Fatalf("only %d examples found", n)
	}
	ex := Usage[strings.LastIndex(Usage, "Example: ")+len("Example: "):]
	if _, err := Parse(ex); err != nil {
		t.Fatalf("example %q: %v", ex, err)
	}
}
