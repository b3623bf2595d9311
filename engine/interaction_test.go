package engine

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of engine/testdata/*.txt")

// Scripted interaction tests. A file under testdata/ is a sequence of
// blocks:
//
//	# comment
//	command arg key=value ...
//	----
//	expected output
//	<blank line>
//
// Commands (node ids are numbers):
//
//	cluster n=3                  fresh group of n nodes
//	campaign 1                   node 1 starts phase 1
//	tick 1 [n=5]                 tick node 1 n times
//	propose 1 data               Propose on node 1
//	ready 1                      take node 1's Ready without syncing it
//	sync 1                       node 1's oldest unsynced Ready becomes durable (AfterSync go out, Advance)
//	process [1 2 ...]            ready + sync until quiet (all nodes if none given)
//	deliver [from=1] [to=2] [type=Accept] [drop] [first]
//	                             deliver (or drop) the queued messages that
//	                             match (only the first one with "first")
//	stabilize                    process and deliver everything until nothing moves
//	crash 1 / restart 1          lose everything not synced / New from durable state
//	compact 1                    node 1 snapshots its applied state and compacts
//	status [1]                   Status of one or all nodes
//	log 1                        node 1's in-memory log and applied values
func TestInteraction(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

type scriptNode struct {
	eng     *Engine
	st      *memStorage
	unsync  []Ready
	applied []string
	up      bool
}

type scriptEnv struct {
	nodes []*scriptNode
	peers []NodeID
	queue []Message
	out   *strings.Builder
}

func runScript(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rewritten strings.Builder
	env := &scriptEnv{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	lineNo := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		lineNo++
		return sc.Text(), true
	}
	for {
		line, ok := next()
		if !ok {
			break
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			rewritten.WriteString(line + "\n")
			continue
		}
		cmdLine, cmdAt := line, lineNo
		if sep, ok := next(); !ok || sep != "----" {
			t.Fatalf("%s:%d: command not followed by ----", path, cmdAt)
		}
		var want []string
		for {
			l, ok := next()
			if !ok || l == "" {
				break
			}
			want = append(want, l)
		}
		var out strings.Builder
		env.out = &out
		if err := env.run(cmdLine); err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
		}
		got := strings.TrimRight(out.String(), "\n")
		if got == "" {
			got = "ok"
		}
		rewritten.WriteString(cmdLine + "\n----\n" + got + "\n\n")
		if !*rewrite && got != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", path, cmdAt, cmdLine, got, strings.Join(want, "\n"))
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.TrimRight(rewritten.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (env *scriptEnv) printf(format string, args ...any) { fmt.Fprintf(env.out, format+"\n", args...) }

func (env *scriptEnv) node(arg string) (*scriptNode, NodeID, error) {
	id, err := strconv.Atoi(arg)
	if err != nil || id < 1 || id > len(env.nodes) {
		return nil, 0, fmt.Errorf("bad node %q", arg)
	}
	n := env.nodes[id-1]
	if !n.up {
		return n, NodeID(id), fmt.Errorf("node %d is down", id)
	}
	return n, NodeID(id), nil
}

func (env *scriptEnv) config(id NodeID) Config {
	cfg := DefaultConfig()
	cfg.ID, cfg.Peers, cfg.Seed = id, env.peers, int64(id)
	cfg.HeartbeatTicks, cfg.ElectionTicks = 1, 10
	return cfg
}

func (env *scriptEnv) run(line string) error {
	f := strings.Fields(line)
	args, kv := []string{}, map[string]string{}
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			kv[k] = v
		} else {
			args = append(args, a)
		}
	}
	switch f[0] {
	case "cluster":
		n, _ := strconv.Atoi(kv["n"])
		env.nodes, env.peers, env.queue = nil, nil, nil
		for i := 1; i <= n; i++ {
			env.peers = append(env.peers, NodeID(i))
		}
		for i := 1; i <= n; i++ {
			sn := &scriptNode{st: newMemStorage(), up: true}
			eng, err := New(env.config(NodeID(i)), sn.st)
			if err != nil {
				return err
			}
			sn.eng = eng
			env.nodes = append(env.nodes, sn)
		}
	case "campaign", "tick", "propose", "ready", "sync", "crash", "restart", "compact", "log":
		if len(args) < 1 {
			return errors.New("which node?")
		}
		n, id, err := env.node(args[0])
		if err != nil && !(f[0] == "restart" && n != nil) {
			return err
		}
		return env.nodeCmd(f[0], n, id, args[1:], kv)
	case "process":
		ids := args
		if len(ids) == 0 {
			for i := range env.nodes {
				ids = append(ids, strconv.Itoa(i+1))
			}
		}
		for _, a := range ids {
			n, id, err := env.node(a)
			if err != nil {
				return err
			}
			env.process(n, id)
		}
	case "deliver":
		return env.deliver(kv, slicesContains(args, "drop"), slicesContains(args, "first"))
	case "stabilize":
		for range 100 {
			moved := false
			for i, n := range env.nodes {
				if n.up && (n.eng.HasReady() || len(n.unsync) > 0) {
					moved = true
					env.process(n, NodeID(i+1))
				}
			}
			if len(env.queue) > 0 {
				moved = true
				if err := env.deliver(nil, false, false); err != nil {
					return err
				}
			}
			if !moved {
				return nil
			}
		}
		return errors.New("did not stabilize")
	case "status":
		for i, n := range env.nodes {
			if len(args) > 0 && args[0] != strconv.Itoa(i+1) {
				continue
			}
			if !n.up {
				env.printf("%d: down", i+1)
				continue
			}
			st := n.eng.Status()
			env.printf("%d: %v ballot=%v leader=%d commit=%d applied=%d last=%d", i+1, st.Role, st.Ballot, st.Leader, st.Commit, st.Applied, st.LastSlot)
		}
	default:
		return fmt.Errorf("unknown command %q", f[0])
	}
	return nil
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (env *scriptEnv) nodeCmd(cmd string, n *scriptNode, id NodeID, args []string, kv map[string]string) error {
	switch cmd {
	case "campaign":
		n.eng.Campaign()
	case "tick":
		times := 1
		if v, ok := kv["n"]; ok {
			times, _ = strconv.Atoi(v)
		}
		for range times {
			n.eng.Tick()
		}
	case "propose":
		if len(args) < 1 {
			return errors.New("propose what?")
		}
		if err := n.eng.Propose([]byte(args[0])); err != nil {
			env.printf("%v", err)
		}
	case "ready":
		env.ready(n, id)
	case "sync":
		if len(n.unsync) == 0 {
			return errors.New("nothing to sync")
		}
		env.sync(n, id)
	case "crash":
		n.up = false
		n.unsync = nil
		n.applied = nil
	case "restart":
		eng, err := New(env.config(id), n.st)
		if err != nil {
			return err
		}
		n.eng, n.up, n.unsync = eng, true, nil
		if n.st.snap.Slot > 0 {
			n.applied = strings.Split(string(n.st.snap.Data), ",")
		}
	case "compact":
		st := n.eng.Status()
		n.st.setSnapshot(Snapshot{Slot: st.Applied, Data: []byte(strings.Join(n.applied, ","))})
		return n.eng.Compact(st.Applied)
	case "log":
		e := n.eng
		var parts []string
		for s := e.log.start; s <= e.log.last(); s++ {
			if en := e.log.get(s); en != nil {
				parts = append(parts, fmtEntry(*en))
			}
		}
		env.printf("log from %d: %s", e.log.start, strings.Join(parts, " "))
		env.printf("applied: %s", strings.Join(n.applied, ","))
	}
	return nil
}

func (env *scriptEnv) process(n *scriptNode, id NodeID) {
	for range 20 {
		if !n.eng.HasReady() && len(n.unsync) == 0 {
			return
		}
		if n.eng.HasReady() {
			env.ready(n, id)
		}
		for len(n.unsync) > 0 {
			env.sync(n, id)
		}
	}
}

func (env *scriptEnv) ready(n *scriptNode, id NodeID) {
	rd := n.eng.Ready()
	env.printf("%d ready:", id)
	if rd.SaveHardState {
		env.printf("  hardstate promised=%v commit=%d", rd.HardState.Promised, rd.HardState.Commit)
	}
	if len(rd.Entries) > 0 {
		var parts []string
		for _, en := range rd.Entries {
			parts = append(parts, fmtEntry(en))
		}
		env.printf("  entries %s", strings.Join(parts, " "))
	}
	if rd.Snapshot != nil {
		env.printf("  snapshot slot=%d data=%q", rd.Snapshot.Slot, rd.Snapshot.Data)
		n.applied = nil
		if len(rd.Snapshot.Data) > 0 {
			n.applied = strings.Split(string(rd.Snapshot.Data), ",")
		}
	}
	for _, m := range rd.Messages {
		env.printf("  send %s", fmtMsg(m))
		env.queue = append(env.queue, m)
	}
	for _, m := range rd.AfterSync {
		env.printf("  after sync %s", fmtMsg(m))
	}
	if len(rd.Committed) > 0 {
		var parts []string
		for _, en := range rd.Committed {
			parts = append(parts, fmtEntry(en))
			n.applied = append(n.applied, entryValue(en))
		}
		env.printf("  apply %s", strings.Join(parts, " "))
	}
	n.unsync = append(n.unsync, rd)
}

func (env *scriptEnv) sync(n *scriptNode, id NodeID) {
	rd := n.unsync[0]
	n.unsync = n.unsync[1:]
	if err := n.st.persist(&rd); err != nil {
		env.printf("persist: %v", err)
	}
	env.queue = append(env.queue, rd.AfterSync...)
	n.eng.Advance(rd)
}

func (env *scriptEnv) deliver(kv map[string]string, drop, first bool) error {
	var kept, due []Message
	for _, m := range env.queue {
		match := (kv["from"] == "" || kv["from"] == strconv.Itoa(int(m.From))) &&
			(kv["to"] == "" || kv["to"] == strconv.Itoa(int(m.To))) &&
			(kv["type"] == "" || kv["type"] == msgName(m.Type))
		if match && (!first || len(due) == 0) {
			due = append(due, m)
		} else {
			kept = append(kept, m)
		}
	}
	env.queue = kept
	for _, m := range due {
		n := env.nodes[m.To-1]
		if drop {
			env.printf("dropped %s", fmtMsg(m))
			continue
		}
		if !n.up {
			env.printf("lost (node %d down) %s", m.To, fmtMsg(m))
			continue
		}
		// Through the codec, as on the wire.
		var dm Message
		if err := dm.Unmarshal(m.MarshalAppend(nil)); err != nil {
			return err
		}
		dm.To = m.To
		env.printf("%s", fmtMsg(dm))
		if err := n.eng.Step(dm); err != nil {
			return err
		}
	}
	return nil
}

func msgName(t MessageType) string {
	return [...]string{"?", "Prepare", "Promise", "Nack", "Accept", "Accepted", "Commit", "Catchup", "Snapshot", "PrePrepare", "PrePromise", "ReadIndex", "ReadIndexResp"}[t]
}

func fmtMsg(m Message) string {
	s := fmt.Sprintf("%d->%d %s b=%v slot=%d commit=%d", m.From, m.To, msgName(m.Type), m.Ballot, m.Slot, m.Commit)
	if m.Reject {
		s += " reject"
	}
	if len(m.Entries) > 0 {
		var parts []string
		for _, en := range m.Entries {
			parts = append(parts, fmtEntry(en))
		}
		s += " [" + strings.Join(parts, " ") + "]"
	}
	if m.Snapshot != nil {
		s += fmt.Sprintf(" snapshot=%d:%q", m.Snapshot.Slot, m.Snapshot.Data)
	}
	return s
}

func entryValue(en Entry) string {
	if en.Type == EntryNoop {
		return "noop"
	}
	return string(en.Data)
}

func fmtEntry(en Entry) string { return fmt.Sprintf("%d@%v:%s", en.Slot, en.Ballot, entryValue(en)) }
